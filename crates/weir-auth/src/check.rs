//! The property of the `sasl_messages` fuzz target: no input to any SASL parser or to the
//! SCRAM server panics, and a parsed message's parts are ones the parser's own rules allow.

use crate::scram::{self, Mechanism, ScramCredential, ServerFirst};

/// Feeds `input` to the PLAIN parser, both SCRAM parsers and a whole SCRAM server exchange
/// (its first byte picks where the client-first message ends). Returns the first violation.
pub fn sasl_messages(input: &[u8]) -> Result<(), String> {
    if let Ok(t) = crate::plain::parse(input)
        && (t.username.is_empty() || t.password.is_empty())
    {
        return Err("PLAIN accepted an empty user or password".into());
    }
    if let Ok(f) = scram::parse_client_first(input) {
        if f.username.is_empty() || f.nonce.contains(',') {
            return Err(format!("client-first parsed to {f:?}"));
        }
        if !input.ends_with(f.bare.as_bytes()) {
            return Err("client-first bare is not the message's tail".into());
        }
    }
    if let Ok(f) = scram::parse_client_final(input)
        && !input.starts_with(f.without_proof.as_bytes())
    {
        return Err("client-final without-proof is not the message's head".into());
    }
    let Some((&split, rest)) = input.split_first() else {
        return Ok(());
    };
    let split = usize::from(split).min(rest.len());
    let (client_first, client_final) = rest.split_at(split);
    // A credential no fuzzer can guess a proof for: success would be a violation.
    let credential = ScramCredential::from_salted_password(
        Mechanism::ScramSha256,
        b"not guessable by a fuzzer in any reasonable time",
        b"salt".to_vec(),
        scram::ITERATIONS_MIN,
    );
    if let Ok((server, _)) = ServerFirst::new(
        Mechanism::ScramSha256,
        client_first,
        |_| Some(credential),
        |_| Vec::new(),
    ) && server.finish(client_final).is_ok()
    {
        return Err("a made-up proof authenticated".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn seeds_hold() {
        for seed in [
            &b""[..],
            b"\0alice\0pw",
            b"n,,n=user,r=abc",
            b"\x0fn,,n=user,r=abcc=biws,r=abc,p=AAAA",
            b"c=biws,r=x,p=AAAA",
        ] {
            super::sasl_messages(seed).unwrap();
        }
    }
}
