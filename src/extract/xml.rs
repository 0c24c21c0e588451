//! Shared helpers for streaming XML text extraction (quick-xml).
