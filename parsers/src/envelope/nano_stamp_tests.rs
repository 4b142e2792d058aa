//! The shape's test sixteen bytes at a time against the byte-by-byte rule.

use super::*;

#[test]
fn a_step_fits_as_it_does_byte_by_byte() {
    for step in [&LOW, &HIGH] {
        let base: Vec<u8> = step.template.to_vec();
        for place in 0..16 {
            for byte in 0..=255u8 {
                let mut bytes = base.clone();
                bytes[place] = byte;
                assert_eq!(
                    sse2::fits(&bytes, step),
                    fits_bytewise(&bytes, step),
                    "byte {byte:#x} at {place}"
                );
            }
        }
    }
}
