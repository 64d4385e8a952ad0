// The web chat page: plain JavaScript against the chat service's REST API, no build step.
"use strict";

const STORAGE_KEY = "mmcs-conversation-id";
const $ = (id) => document.getElementById(id);
let conversationId = null;
let recording = null; // {context, source, processor, stream, chunks, rate}
let recordedWav = null; // Blob of the last recording, sent with the next message

// === REST calls ===

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body instanceof FormData) {
    options.body = body;
  } else if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const payload = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) {
    throw new Error(payload.error || `HTTP ${response.status}`);
  }
  return payload;
}

async function newConversation() {
  const created = await api("POST", "/v1/conversations", { channel: "chat" });
  conversationId = created.conversation_id;
  localStorage.setItem(STORAGE_KEY, conversationId);
  $("messages").innerHTML = "";
  showConversation(created);
}

async function resumeConversation() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (!saved) {
    return newConversation();
  }
  try {
    const history = await api("GET", `/v1/conversations/${encodeURIComponent(saved)}`);
    conversationId = saved;
    showConversation(history);
    for (const turn of history.turns) {
      addCustomerBubble(turn.text, turn.image ? "picture" : null, turn.audio ? "voice message" : null);
      // A turn is shown as handed off from the handoff turn on, not before it.
      const handedOff = turn.action === "handoff" || turn.action === "after_handoff";
      addReplyBubble(turn, handedOff ? history.handoff : { handed_off: false });
    }
  } catch (error) {
    return newConversation(); // e.g. a new database: start afresh
  }
}

// === Rendering ===

function showConversation(conversation) {
  $("conversation-id").textContent = conversation.conversation_id;
  showHandoff(conversation.handoff);
}

function showHandoff(handoff) {
  const state = $("handoff-state");
  state.dataset.handedOff = String(Boolean(handoff && handoff.handed_off));
  if (handoff && handoff.handed_off) {
    state.textContent = `Handed off to a person (${handoff.reason.replace(/_/g, " ")})`;
    state.className = "state-person";
  } else {
    state.textContent = "Assistant";
    state.className = "state-bot";
  }
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function addCustomerBubble(text, imageLabel, audioLabel, imageUrl, audioUrl) {
  const bubble = element("div", "bubble customer");
  if (text) bubble.appendChild(element("div", "text", text));
  if (imageUrl) {
    const img = element("img");
    img.src = imageUrl;
    img.alt = imageLabel;
    bubble.appendChild(img);
  } else if (imageLabel) {
    bubble.appendChild(element("div", "attachment", `[${imageLabel}]`));
  }
  if (audioUrl) {
    const audio = element("audio");
    audio.controls = true;
    audio.src = audioUrl;
    bubble.appendChild(audio);
  } else if (audioLabel) {
    bubble.appendChild(element("div", "attachment", `[${audioLabel}]`));
  }
  $("messages").appendChild(bubble);
  scrollDown();
}

function percent(value) {
  return value === null || value === undefined ? "n/a" : `${(100 * value).toFixed(1)} %`;
}

function addReplyBubble(turn, handoff) {
  const handedOff = handoff && handoff.handed_off;
  const bubble = element("div", "bubble assistant reply" + (handedOff ? " handoff" : ""));
  bubble.dataset.turnId = turn.turn_id;
  bubble.dataset.action = turn.action;
  bubble.appendChild(element("div", "reply-text", turn.reply));
  const meta = element("div", "meta");
  const fields = [
    ["intent", `intent: ${turn.intent || turn.model_intent || "n/a"}`],
    ["confidence", `confidence: ${percent(turn.confidence ?? turn.model_confidence)}`],
    ["sentiment", `sentiment: ${turn.sentiment || "n/a"}`],
    ["out-of-scope", turn.out_of_scope ? "out of scope" : "in scope"],
    ["action", `action: ${turn.action.replace(/_/g, " ")}`],
    ["handoff", handedOff ? `handoff: yes (${handoff.reason.replace(/_/g, " ")})` : "handoff: no"],
  ];
  for (const [name, text] of fields) {
    meta.appendChild(element("span", name, text));
  }
  bubble.appendChild(meta);
  if (turn.reply_audio && turn.reply_audio.b64) {
    const audio = element("audio", "reply-audio");
    audio.controls = true;
    audio.src = `data:audio/wav;base64,${turn.reply_audio.b64}`;
    bubble.appendChild(audio);
    audio.play().catch(() => {}); // autoplay may be refused; the controls stay
  }
  $("messages").appendChild(bubble);
  scrollDown();
}

function scrollDown() {
  $("messages").scrollTop = $("messages").scrollHeight;
}

// === Sending ===

async function send(event) {
  event.preventDefault();
  $("error").textContent = "";
  const text = $("text").value.trim();
  const image = $("image").files[0] || null;
  const audio = $("audio").files[0] || recordedWav;
  if (!text && !image && !audio) {
    $("error").textContent = "Type a message, or attach a picture or a voice message.";
    return;
  }
  const form = new FormData();
  form.append("text", text);
  if (image) form.append("image", image, image.name);
  if (audio) form.append("audio", audio, audio.name || "recording.wav");
  form.append("speak", $("speak").checked ? "true" : "false");

  $("send").disabled = true;
  addCustomerBubble(
    text,
    image ? image.name : null,
    audio ? audio.name || "voice message" : null,
    image ? URL.createObjectURL(image) : null,
    audio ? URL.createObjectURL(audio) : null,
  );
  try {
    const reply = await api(
      "POST", `/v1/conversations/${encodeURIComponent(conversationId)}/messages`, form);
    addReplyBubble(reply, reply.handoff);
    showHandoff(reply.handoff);
    $("text").value = "";
    $("image").value = "";
    $("audio").value = "";
    recordedWav = null;
    $("recording-state").textContent = "";
  } catch (error) {
    $("error").textContent = `Not sent: ${error.message}`;
  } finally {
    $("send").disabled = false;
  }
}

// === Recording: raw samples to WAV in the page, so no WebM reaches the server ===

async function toggleRecording() {
  if (recording) {
    return stopRecording();
  }
  $("error").textContent = "";
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (error) {
    $("error").textContent = `No microphone: ${error.message}`;
    return;
  }
  const context = new AudioContext();
  const source = context.createMediaStreamSource(stream);
  // ScriptProcessorNode is deprecated but works everywhere without a module file.
  const processor = context.createScriptProcessor(4096, 1, 1);
  const chunks = [];
  processor.onaudioprocess = (e) => chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
  source.connect(processor);
  processor.connect(context.destination);
  recording = { context, source, processor, stream, chunks, rate: context.sampleRate };
  $("record").textContent = "Stop recording";
  $("recording-state").textContent = "recording...";
}

function stopRecording() {
  const { context, source, processor, stream, chunks, rate } = recording;
  recording = null;
  source.disconnect();
  processor.disconnect();
  stream.getTracks().forEach((track) => track.stop());
  context.close();
  recordedWav = encodeWav(chunks, rate);
  const seconds = chunks.reduce((n, c) => n + c.length, 0) / rate;
  $("record").textContent = "Record voice";
  $("recording-state").textContent = `recorded ${seconds.toFixed(1)} s (sent with the next message)`;
}

function encodeWav(chunks, rate) {
  const length = chunks.reduce((n, c) => n + c.length, 0);
  const buffer = new ArrayBuffer(44 + 2 * length);
  const view = new DataView(buffer);
  const ascii = (offset, s) => [...s].forEach((ch, i) => view.setUint8(offset + i, ch.charCodeAt(0)));
  ascii(0, "RIFF");
  view.setUint32(4, 36 + 2 * length, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, rate, true);
  view.setUint32(28, 2 * rate, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  ascii(36, "data");
  view.setUint32(40, 2 * length, true);
  let offset = 44;
  for (const chunk of chunks) {
    for (const sample of chunk) {
      const s = Math.max(-1, Math.min(1, sample));
      view.setInt16(offset, s < 0 ? s * 0x8000 : s * 0x7fff, true);
      offset += 2;
    }
  }
  return new File([buffer], "recording.wav", { type: "audio/wav" });
}

// === Start ===

// Everything waits for the saved conversation to load, so a click cannot race it.
const ready = resumeConversation()
  .catch((error) => { $("error").textContent = error.message; })
  .finally(() => { document.body.dataset.ready = "true"; });

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  ready.then(() => send(event));
});
$("record").addEventListener("click", toggleRecording);
$("new-conversation").addEventListener("click", () => ready.then(newConversation).catch(
  (error) => { $("error").textContent = error.message; }));
$("text").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) {
    e.preventDefault();
    $("composer").requestSubmit();
  }
});
