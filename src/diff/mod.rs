//! Stage `diff`: what differs between a rendered object and its live counterpart.

pub mod managed;
