//! `etc/passwd` and `etc/group`: a gate needs them to tell whether a user name runs as uid 0.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// Parses every non-comment line with `parse_line`; lines it rejects are counted.
fn parse_lines<T>(text: &str, parse_line: impl Fn(&[&str]) -> Option<T>) -> (Vec<T>, usize) {
    let mut bad = 0;
    let mut items = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let fields: Vec<&str> = line.split(':').collect();
        match parse_line(&fields) {
            Some(item) => items.push(item),
            None => bad += 1,
        }
    }
    (items, bad)
}

/// Parses passwd lines `name:x:uid:gid:gecos:home:shell`; malformed lines are counted.
pub fn parse_passwd(text: &str) -> (Vec<User>, usize) {
    parse_lines(text, |f| match f {
        [name, _, uid, gid, _, home, shell, ..] if !name.is_empty() => Some(User {
            name: name.to_string(),
            uid: uid.parse().ok()?,
            gid: gid.parse().ok()?,
            home: home.to_string(),
            shell: shell.to_string(),
        }),
        _ => None,
    })
}

/// Parses group lines `name:x:gid:member,member`; malformed lines are counted.
pub fn parse_group(text: &str) -> (Vec<Group>, usize) {
    parse_lines(text, |f| match f {
        [name, _, gid, rest @ ..] if !name.is_empty() => Some(Group {
            name: name.to_string(),
            gid: gid.parse().ok()?,
            members: rest
                .first()
                .map(|m| m.split(',').filter(|m| !m.is_empty()).map(str::to_string).collect())
                .unwrap_or_default(),
        }),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_alpine_passwd_and_group() {
        let (users, bad) = parse_passwd(include_str!("../../testdata/alpine-3.20.3/etc/passwd"));
        assert_eq!(bad, 0);
        assert_eq!(
            users[0],
            User {
                name: "root".into(),
                uid: 0,
                gid: 0,
                home: "/root".into(),
                shell: "/bin/sh".into()
            }
        );
        assert!(users.iter().any(|u| u.name == "nobody" && u.uid == 65534));
        let (groups, bad) = parse_group(include_str!("../../testdata/alpine-3.20.3/etc/group"));
        assert_eq!(bad, 0);
        assert!(
            groups
                .iter()
                .any(|g| g.name == "wheel" && g.members.contains(&"root".to_string()))
        );
    }

    #[test]
    fn malformed_lines_are_counted_not_fatal() {
        let (users, bad) = parse_passwd("toor:x:0:0::/root:/bin/sh\ngarbage\nx:x:notanumber:0:::\n");
        assert_eq!(users.len(), 1);
        assert_eq!(bad, 2);
    }
}
