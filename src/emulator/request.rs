//! The decoded query parameters of a request, names compared ignoring case, for both emulators;
//! and the SignalR REST API's forms of `excluded` (repeated or comma-joined) and `reason`.

use axum::http::Uri;

/// The decoded query parameters of a request.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Decodes the query of `uri`.
    pub fn of(uri: &Uri) -> Self {
        let query = uri.query().unwrap_or("");
        Self(
            url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// Every value of `name` (compared ignoring case), in order.
    pub fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        let name = name.to_string();
        self.0
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(&name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, even an empty one.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.values(name).next()
    }

    /// The first value of `name`, if any and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values(name).find(|v| !v.is_empty())
    }

    /// Every `(name, value)` pair, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The connection ids in `excluded`, repeated (`?excluded=a&excluded=b`) or comma-joined.
    pub fn excluded(&self) -> Vec<String> {
        self.values("excluded")
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The close `reason`.
    pub fn reason(&self) -> Option<String> {
        self.get("reason").map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excluded_forms() {
        let q = Query::of(
            &"/x?excluded=a&excluded=b,c&Excluded=&reason="
                .parse()
                .unwrap(),
        );
        assert_eq!(q.excluded(), vec!["a", "b", "c"]);
        assert_eq!(q.reason(), None);
        assert_eq!(q.first("reason"), Some(""));
    }
}
