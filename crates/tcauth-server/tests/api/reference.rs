//! docs/API.md is kept in step with the router: its table of endpoints lists exactly the paths
//! and methods `src/routes.rs` (the one table of paths) serves, and each path has a section
//! heading. A route added without its documentation, or documentation of a route that is not
//! served, fails here.

use std::collections::{BTreeMap, BTreeSet};

const ROUTES: &str = include_str!("../../src/routes.rs");
const API: &str = include_str!("../../../../docs/API.md");

/// Named path constants the router uses instead of a literal.
const CONSTS: &[(&str, &str)] = &[("oauth::discovery::JWKS_PATH", "/.well-known/jwks.json")];

/// Path → methods, read from every `.route(PATH, METHOD(handler).METHOD(handler)…)` of
/// routes.rs. The admin fallbacks (`/admin`, `/admin/{*rest}`: a JSON 404) are not endpoints.
fn routes() -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    let mut rest = ROUTES;
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + ".route(".len()..];
        // The call's arguments: up to the parenthesis that closes `.route(`.
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find_map(|(j, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(j)
            })
            .expect("a closed .route(");
        let args = rest[..end].trim();
        let (path, handler) = args.split_once(',').expect("route(path, handler)");
        let path = path.trim();
        let path = match path.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
            Some(p) => p.to_string(),
            None => CONSTS
                .iter()
                .find(|(name, _)| *name == path)
                .unwrap_or_else(|| {
                    panic!("routes.rs names a path constant {path}: add it to CONSTS")
                })
                .1
                .to_string(),
        };
        if handler.contains("admin::fallback") {
            continue;
        }
        let mut methods = BTreeSet::new();
        for m in ["get", "post", "put", "patch", "delete"] {
            let called = handler.match_indices(&format!("{m}(")).any(|(k, _)| {
                let before = handler[..k].chars().last();
                matches!(before, None | Some('.') | Some(' ') | Some('\n'))
            });
            if called {
                methods.insert(m.to_uppercase());
            }
        }
        assert!(!methods.is_empty(), "no method found for {path}: {handler}");
        assert!(out.insert(path.clone(), methods).is_none(), "{path} twice");
    }
    out
}

/// The rows of docs/API.md's table of endpoints: `| METHODS | `path` | §N |`.
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let start = API
        .find("\n## Endpoints\n")
        .expect("docs/API.md has ## Endpoints");
    let section = &API[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut out = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() < 2 || cells[0] == "Method" || cells[0].starts_with("---") {
            continue;
        }
        let path = cells[1].trim_matches('`').to_string();
        let methods = cells[0].split(',').map(|m| m.trim().to_string()).collect();
        assert!(
            out.insert(path.clone(), methods).is_none(),
            "{path} twice in docs/API.md"
        );
    }
    out
}

#[test]
fn the_router_is_parsed() {
    let r = routes();
    // A sample, so a parser that found nothing (or the wrong things) fails here.
    assert_eq!(r["/v1/token"], BTreeSet::from(["POST".to_string()]));
    assert_eq!(
        r["/admin/v1/clients/{client_id}"],
        BTreeSet::from(["GET", "PATCH", "DELETE"].map(String::from))
    );
    assert_eq!(
        r["/.well-known/jwks.json"],
        BTreeSet::from(["GET".to_string()])
    );
    assert!(!r.contains_key("/admin/{*rest}"));
    assert!(r.len() >= 30, "{r:?}");
}

#[test]
fn api_md_lists_exactly_the_routes_the_router_serves() {
    let served = routes();
    let documented = documented();
    let missing: Vec<_> = served
        .keys()
        .filter(|p| !documented.contains_key(*p))
        .collect();
    assert!(
        missing.is_empty(),
        "served but not in docs/API.md's table of endpoints: {missing:?}"
    );
    let extra: Vec<_> = documented
        .keys()
        .filter(|p| !served.contains_key(*p))
        .collect();
    assert!(
        extra.is_empty(),
        "in docs/API.md's table of endpoints but not served by routes.rs: {extra:?}"
    );
    for (path, methods) in &served {
        assert_eq!(
            &documented[path], methods,
            "the methods of {path} in docs/API.md's table"
        );
    }
}

#[test]
fn every_route_has_a_heading_in_api_md() {
    let headings: Vec<&str> = API.lines().filter(|l| l.starts_with("### ")).collect();
    for path in routes().keys() {
        let quoted = format!("`{path}`");
        assert!(
            headings.iter().any(|h| h.contains(&quoted)),
            "docs/API.md has no ### heading naming {quoted}"
        );
    }
    // And no heading names a path the router lacks.
    let served = routes();
    for h in &headings {
        for piece in h.split('`').skip(1).step_by(2) {
            if piece.starts_with('/') {
                assert!(
                    served.contains_key(piece),
                    "docs/API.md heading {h:?} names {piece}, which routes.rs does not serve"
                );
            }
        }
    }
}
