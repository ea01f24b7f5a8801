"""Security: password hashing, API tokens, and (later) signatures."""
