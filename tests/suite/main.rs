//! Every integration test in one binary (fewer links on two cores): each module is one former
//! test file, talking HTTP and WebSocket to the real router or binary on 127.0.0.1. The shared
//! harness modules come first. Tests that change the process environment stay in binaries of
//! their own (`tests/entra_default_chain.rs`, `tests/entra_stack.rs`).

mod child_process;
mod emulator_support;
mod identity_support;
mod python_env;
mod rest_support;
mod support;
mod upstream_support;
mod webpubsub_emulator_support;
mod webpubsub_support;

mod app_demo;
mod app_host;
mod app_identity;
mod app_logs;
mod app_manage;
mod app_negotiate;
mod app_send;
mod app_upstream;
mod browser;
mod cli;
mod connection_string;
mod e2e;
mod emulator_auth;
mod emulator_cli;
mod emulator_dashboard;
mod emulator_dashboard_live;
mod emulator_direct;
mod emulator_groups;
mod emulator_limits;
mod emulator_long_polling;
mod emulator_msgpack;
mod emulator_rest;
mod emulator_swagger;
mod emulator_transports;
mod emulator_upstream;
mod entra;
mod entra_authority;
mod entra_local_stack;
mod entra_recovery;
mod functions_layout;
mod fuzz_regressions;
mod fuzz_smoke;
mod identity;
mod identity_connection;
mod import_graph;
mod oidc_keys;
mod python;
mod rest_contract;
mod server_limits;
mod settings;
mod token;
mod webpubsub_app;
mod webpubsub_emulator_clients;
mod webpubsub_emulator_events;
mod webpubsub_emulator_rest;
mod webpubsub_events;
mod webpubsub_local_stack;
mod webpubsub_python;
mod webpubsub_rest;
