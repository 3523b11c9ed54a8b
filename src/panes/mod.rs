//! What is drawn: one module per visual region. A pane draws from state; it owns no I/O.
