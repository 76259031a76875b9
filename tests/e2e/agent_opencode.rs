//! OpenCode (npm `opencode-ai` 1.18.33, pinned in tests/peers) launched by `lakepass launch
//! opencode`.
