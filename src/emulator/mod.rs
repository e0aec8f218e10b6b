//! The embedded local SignalR Service emulator.
