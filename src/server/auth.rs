//! Bearer tokens with a read and a write scope. Only SHA-256 hashes of the secrets are kept
//! (the configuration may give the hash instead of the secret); a presented token is hashed and
//! compared with every configured hash in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Read jobs, plans and every artefact.
    Read,
    /// Submit plans; implies read.
    Write,
}

/// A configured bearer token: its scope and the SHA-256 of its secret (the secret is not kept).
#[derive(Clone)]
pub struct Token {
    /// What the token may do.
    pub scope: Scope,
    /// Who holds it (`NAME=SCOPE:SECRET`), for the author of saved versions; without a name,
    /// `write token 1a2b3c4d` (the start of its hash, never of the secret).
    pub name: String,
    hash: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token({:?}, sha256:…)", self.scope)
    }
}

/// SHA-256 digest of `secret`.
pub fn sha256(secret: &[u8]) -> [u8; 32] {
    Sha256::digest(secret).into()
}

/// Lower-case hexadecimal text of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parse `SCOPE:SECRET` or `SCOPE:sha256:HEX` (SCOPE is `read` or `write`), optionally
/// preceded by a name, `NAME=SCOPE:...`. Error messages never repeat the secret.
pub fn parse_token(spec: &str) -> Result<Token, String> {
    let spec = spec.trim();
    let (name, spec) = match spec.split_once(':').map(|(head, _)| head.split_once('=')) {
        Some(Some((name, _))) => {
            let name = name.trim();
            if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
                return Err("a token's name must have 1 to 64 printable characters".into());
            }
            (Some(name.to_string()), &spec[spec.find('=').unwrap_or(0) + 1..])
        }
        _ => (None, spec),
    };
    let (scope, rest) =
        spec.split_once(':').ok_or("a token must look like 'read:SECRET' or 'write:SECRET'")?;
    let scope = match scope.trim() {
        "read" => Scope::Read,
        "write" => Scope::Write,
        other => return Err(format!("unknown token scope '{other}': use 'read' or 'write'")),
    };
    let hash = if let Some(h) = rest.strip_prefix("sha256:") {
        let h = h.trim();
        if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("a 'sha256:' token hash must be 64 hexadecimal digits".into());
        }
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&h[2 * i..2 * i + 2], 16)
                .map_err(|_| "bad hexadecimal digit in a token hash")?;
        }
        out
    } else {
        if rest.len() < 16 {
            return Err("a token secret must have at least 16 characters".into());
        }
        sha256(rest.as_bytes())
    };
    let name = name.unwrap_or_else(|| {
        format!(
            "{} token {}",
            if scope == Scope::Write { "write" } else { "read" },
            &hex(&hash)[..8]
        )
    });
    Ok(Token { scope, name, hash })
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No `Authorization: Bearer` header, or a token that matches none (401).
    Unauthenticated,
    /// A valid token without the needed scope (403).
    Forbidden,
}

/// The scope granted to a presented token, checking every configured token (no early exit).
pub fn scope_of(tokens: &[Token], presented: &str) -> Option<Scope> {
    let h = sha256(presented.as_bytes());
    let mut granted: Option<Scope> = None;
    for t in tokens {
        if bool::from(t.hash.ct_eq(&h)) {
            granted = granted.max(Some(t.scope));
        }
    }
    granted
}

/// Check an `Authorization` header value against the tokens for the needed scope.
pub fn authorize(tokens: &[Token], header: Option<&str>, needed: Scope) -> Result<Scope, Denied> {
    authorize_named(tokens, header, needed).map(|(scope, _)| scope)
}

/// [`authorize`], with the name of the (first) token that matched.
pub fn authorize_named(
    tokens: &[Token],
    header: Option<&str>,
    needed: Scope,
) -> Result<(Scope, String), Denied> {
    // The scheme is case-insensitive (RFC 9110, 11.1); one or more spaces before the token.
    let presented = header
        .map(str::trim_start)
        .and_then(|h| {
            let (scheme, rest) = h.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(rest)
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(Denied::Unauthenticated)?;
    let scope = scope_of(tokens, presented).ok_or(Denied::Unauthenticated)?;
    let h = sha256(presented.as_bytes());
    let name = tokens
        .iter()
        .filter(|t| bool::from(t.hash.ct_eq(&h)) && t.scope == scope)
        .map(|t| t.name.clone())
        .next()
        .unwrap_or_default();
    if scope >= needed {
        Ok((scope, name))
    } else {
        Err(Denied::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_hashes() {
        let secret = "read-secret-0123456789";
        let hashed = format!("read:sha256:{}", hex(&sha256(secret.as_bytes())));
        let tokens = vec![
            parse_token(&hashed).unwrap(),
            parse_token("write:write-secret-0123456789").unwrap(),
        ];
        assert_eq!(
            authorize(&tokens, Some("Bearer read-secret-0123456789"), Scope::Read),
            Ok(Scope::Read)
        );
        assert_eq!(
            authorize(&tokens, Some("Bearer read-secret-0123456789"), Scope::Write),
            Err(Denied::Forbidden)
        );
        assert_eq!(
            authorize(&tokens, Some("Bearer write-secret-0123456789"), Scope::Read),
            Ok(Scope::Write)
        );
        assert_eq!(
            authorize(&tokens, Some("Bearer nope-nope-nope-nope"), Scope::Read),
            Err(Denied::Unauthenticated)
        );
        assert_eq!(authorize(&tokens, None, Scope::Read), Err(Denied::Unauthenticated));
        // The scheme in any case (RFC 9110); another scheme is no token.
        for h in ["bearer", "BEARER", "BeArEr"] {
            assert_eq!(
                authorize(&tokens, Some(&format!("{h} read-secret-0123456789")), Scope::Read),
                Ok(Scope::Read),
                "{h}"
            );
        }
        assert_eq!(
            authorize(&tokens, Some("Basic read-secret-0123456789"), Scope::Read),
            Err(Denied::Unauthenticated)
        );
        assert_eq!(
            authorize(&tokens, Some("Bearerread-secret-0123456789"), Scope::Read),
            Err(Denied::Unauthenticated)
        );
        assert_eq!(
            authorize(&tokens, Some("Basic abc"), Scope::Read),
            Err(Denied::Unauthenticated)
        );
    }

    #[test]
    fn bad_specs_do_not_echo_the_secret() {
        for spec in ["admin:supersecretvalue123", "write:short", "read:sha256:zz", "nocolon"] {
            let e = parse_token(spec).unwrap_err();
            assert!(!e.contains("supersecret") && !e.contains("short"), "{e}");
        }
    }
}
