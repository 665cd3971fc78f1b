//! Gorilla chunk codec (in progress).
