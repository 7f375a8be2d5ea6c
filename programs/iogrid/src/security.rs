//! Contact metadata for security researchers, embedded in the binary in the
//! `security_txt!` format, which `query-security-txt` and explorers find by
//! its markers (written out by hand: the macro's crate does not build for
//! this target). sbpf-linker keeps only the standard sections, so the text
//! lives in `.rodata`, kept alive by [`keep`].

/// NUL-separated key/value pairs between the format's markers.
#[used]
pub static SECURITY_TXT: [u8; SECURITY_TXT_BYTES.len()] = {
    let mut out = [0u8; SECURITY_TXT_BYTES.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = SECURITY_TXT_BYTES[i];
        i += 1;
    }
    out
};

pub const SECURITY_TXT_BYTES: &[u8] = b"=======BEGIN SECURITY.TXT V1=======\0\
name\0iogrid\0\
project_url\0https://github.com/iogrid/iogrid\0\
contacts\0email:security@iogrid.network\0\
policy\0https://github.com/iogrid/iogrid/blob/main/docs/security.md\0\
preferred_languages\0en\0\
source_code\0https://github.com/iogrid/iogrid\0\
auditors\0None\0\
=======END SECURITY.TXT V1=======\0";

/// Reads the text once so the linker cannot drop it (called by
/// `initialize`, which runs once per network: a few compute units).
pub fn keep() {
    // SAFETY: reading the first byte of a static array.
    unsafe { core::ptr::read_volatile(SECURITY_TXT.as_ptr()) };
}

#[cfg(test)]
mod tests {
    #[test]
    fn security_txt_is_in_the_expected_format() {
        let text = super::SECURITY_TXT_BYTES;
        assert!(text.starts_with(b"=======BEGIN SECURITY.TXT V1=======\0"));
        assert!(text.ends_with(b"=======END SECURITY.TXT V1=======\0"));
        let fields: alloc::vec::Vec<&[u8]> = text.split(|b| *b == 0).collect();
        // Marker, then key/value pairs, then the end marker and a final empty piece.
        assert_eq!(fields.len() % 2, 1);
        assert_eq!(fields[1], b"name");
        assert_eq!(fields[2], b"iogrid");
    }
}
