"""`mmcs chat-server`: the customer-service chat service on top of the served model."""
