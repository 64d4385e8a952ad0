"""A request's JSON body, for both HTTP services: every malformed body is the client's error.

`json.loads` fails in more ways than `JSONDecodeError`: a number longer than Python's
integer-conversion limit (a plain ValueError), nesting deeper than the parser's recursion
limit (RecursionError), and it accepts `"\\ud800"`, an unpaired UTF-16 surrogate that no
UTF-8 text can hold and that fails later, wherever the string is encoded. Each is a bad
request, answered 400 with what is wrong, never a 500.
"""

import json
import re

# The only way a surrogate gets into a parsed string: a \uD800-\uDFFF escape (raw surrogate
# bytes are not UTF-8, and the parser rejects them).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class JsonBodyError(ValueError):
    """The body is not JSON both services can use; the message says why."""


def parse_json(body: bytes):
    """The JSON value of a request body.

    Raises:
        JsonBodyError: not UTF-8 JSON, nested too deeply, a number too long to convert, or
            a string with an unpaired surrogate.
    """
    try:
        value = json.loads(body)
    except RecursionError:
        raise JsonBodyError("the JSON is nested too deeply") from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, the int digit limit
        raise JsonBodyError(str(error)) from None
    if _SURROGATE_ESCAPE.search(body) and _has_unpaired_surrogate(value):
        raise JsonBodyError("a string holds an unpaired UTF-16 surrogate (\\ud800-\\udfff)")
    return value


def _has_unpaired_surrogate(value) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
