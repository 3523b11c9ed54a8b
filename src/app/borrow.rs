//! Borrows of `App` field by field, so that a part can change while others are read.

/// The test shown: a replay's window of it where memory no longer holds the moment.
macro_rules! shown_test {
    ($app:expr) => {{
        let test = $app.input.test($app.views.test);
        match &$app.replay {
            Some(r) => r.shown(test, $app.views.test),
            None => test,
        }
    }};
}

/// The test shown, at the freeze and the replay's moment the panes show.
macro_rules! shown {
    ($app:expr) => {{
        let test = shown_test!($app);
        let cut = $app
            .replay
            .as_ref()
            .filter(|r| r.loaded)
            .map(|r| r.cut(test));
        $crate::app::logviews::Shown {
            test,
            freeze: $app.failure.frozen(test).filter(|f| {
                cut.is_none_or(|c| $crate::vm::store::Stamp::line_start(f.line + 1) <= c)
            }),
            command: $app.sessions.command.is_some(),
            cut,
        }
    }};
}

/// What a session's command is built from.
macro_rules! ctx {
    ($app:expr) => {
        $crate::app::sessions::connect::Ctx {
            test: $app.input.test($app.views.test),
            checks: &$app.checks,
        }
    };
}
