//! Whether any byte of a text is of a class, checked many bytes per instruction: the test behind
//! the copy-as-is fast paths of JSON strings ([`super::json_text`]) and percent-encoding
//! ([`super::names::push_encoded`]), which tokens and URLs take on every negotiation.

/// `true` when `hit` holds for some byte of `bytes`. Folds over fixed-size chunks without an
/// early exit inside one, so the compiler vectorises the class test.
pub fn any_byte(bytes: &[u8], hit: impl Fn(u8) -> bool) -> bool {
    let any = |chunk: &[u8]| chunk.iter().fold(false, |any, &b| any | hit(b));
    let mut chunks = bytes.chunks_exact(32);
    chunks.any(any) || any(chunks.remainder())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_hit_in_any_chunk_and_in_the_remainder() {
        let quote = |b: u8| b == b'"';
        assert!(!any_byte(b"", quote));
        for len in [1, 31, 32, 33, 64, 100] {
            let mut text = vec![b'a'; len];
            assert!(!any_byte(&text, quote), "{len}");
            for at in [0, len / 2, len - 1] {
                text[at] = b'"';
                assert!(any_byte(&text, quote), "{len} at {at}");
                text[at] = b'a';
            }
        }
    }
}
