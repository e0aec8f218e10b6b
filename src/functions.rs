//! The Functions layout: host.json, function.json files and `handler package`.
