//! The page's static files, compiled into the pool so the served page is exactly the
//! reviewed one.

/// One embedded file.
pub(super) struct Asset {
    pub(super) content_type: &'static str,
    pub(super) body: &'static str,
}

/// `GET /p/`.
pub(super) const INDEX: Asset = Asset {
    content_type: "text/html; charset=utf-8",
    body: include_str!("../../page-assets/index.html"),
};

/// `GET /p/page.js`.
pub(super) const SCRIPT: Asset = Asset {
    content_type: "text/javascript; charset=utf-8",
    body: include_str!("../../page-assets/page.js"),
};

/// `GET /p/page.css`.
pub(super) const STYLE: Asset = Asset {
    content_type: "text/css; charset=utf-8",
    body: include_str!("../../page-assets/page.css"),
};

/// The asset served at `path`, if any.
pub(super) fn find(path: &str) -> Option<&'static Asset> {
    match path {
        "/p/" => Some(&INDEX),
        "/p/page.js" => Some(&SCRIPT),
        "/p/page.css" => Some(&STYLE),
        _ => None,
    }
}
