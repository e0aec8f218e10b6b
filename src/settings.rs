//! App settings, parsed once at start-up.
