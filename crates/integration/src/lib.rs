//! Nothing here: this package holds the in-process integration tests (`tests/it`).
