//! A minimal reader of the protobuf wire format (the encoding, not the schema
//! language): enough to walk the fields of a message and decode the scalar and
//! length-delimited values ONNX uses.
//!
//! Every read is bounds-checked and answers an error on truncated or malformed
//! input; nothing here can panic or allocate more than the input's size.

/// Why bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

/// A result of this module.
pub type WireResult<T> = Result<T, WireError>;

fn err<T>(message: &str) -> WireResult<T> {
    Err(WireError(message.to_string()))
}

/// One field's value as found on the wire.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// Wire type 0: an integer (int32, int64, uint64, bool, enum).
    Varint(u64),
    /// Wire type 1: eight bytes (double, fixed64).
    Fixed64(u64),
    /// Wire type 2: bytes, a string, a sub-message or a packed repeated field.
    Bytes(&'a [u8]),
    /// Wire type 5: four bytes (float, fixed32).
    Fixed32(u32),
}

/// Iterates over the `(field number, value)` pairs of one message.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over the encoded message `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn varint(&mut self) -> WireResult<u64> {
        let mut value: u64 = 0;
        for shift in (0..70).step_by(7) {
            let Some(&byte) = self.buf.get(self.pos) else {
                return err("truncated varint");
            };
            self.pos += 1;
            if shift == 63 && byte > 1 {
                return err("varint overflows 64 bits");
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        err("varint longer than ten bytes")
    }

    fn take(&mut self, n: usize) -> WireResult<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| WireError("field runs past the end of its message".into()))?;
        let slice = &self.buf[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    /// The next field, `None` at the end of the message.
    ///
    /// # Errors
    /// [`WireError`] for truncated data, a field number 0 or a wire type other than
    /// 0, 1, 2 and 5 (groups, types 3 and 4, are deprecated and not read).
    pub fn next_field(&mut self) -> WireResult<Option<(u64, Value<'a>)>> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = key >> 3;
        if field == 0 {
            return err("field number 0");
        }
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                let b = self.take(8)?;
                Value::Fixed64(u64::from_le_bytes(b.try_into().expect("eight bytes")))
            }
            2 => {
                let n = usize::try_from(self.varint()?)
                    .map_err(|_| WireError("length does not fit in memory".into()))?;
                Value::Bytes(self.take(n)?)
            }
            5 => {
                let b = self.take(4)?;
                Value::Fixed32(u32::from_le_bytes(b.try_into().expect("four bytes")))
            }
            other => return Err(WireError(format!("unsupported wire type {other}"))),
        };
        Ok(Some((field, value)))
    }
}

/// The varints of a packed repeated field.
///
/// # Errors
/// [`WireError`] for a truncated varint.
pub fn packed_varints(bytes: &[u8]) -> WireResult<Vec<u64>> {
    let mut r = Reader::new(bytes);
    let mut out = Vec::new();
    while r.pos < bytes.len() {
        out.push(r.varint()?);
    }
    Ok(out)
}

/// Little-endian `f32`s of a packed field or `raw_data`.
///
/// # Errors
/// [`WireError`] when the length is not a multiple of 4.
pub fn packed_f32(bytes: &[u8]) -> WireResult<Vec<f64>> {
    if !bytes.len().is_multiple_of(4) {
        return err("float data length is not a multiple of 4");
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f64::from(f32::from_le_bytes(c.try_into().expect("four bytes"))))
        .collect())
}

/// Little-endian `f64`s of a packed field or `raw_data`.
///
/// # Errors
/// [`WireError`] when the length is not a multiple of 8.
pub fn packed_f64(bytes: &[u8]) -> WireResult<Vec<f64>> {
    if !bytes.len().is_multiple_of(8) {
        return err("double data length is not a multiple of 8");
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("eight bytes")))
        .collect())
}

/// A length-delimited value as UTF-8 text.
///
/// # Errors
/// [`WireError`] for a value of another wire type or invalid UTF-8.
pub fn string(value: Value<'_>) -> WireResult<String> {
    match value {
        Value::Bytes(b) => std::str::from_utf8(b)
            .map(str::to_string)
            .map_err(|_| WireError("a string field is not UTF-8".into())),
        _ => err("expected a string field"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_wire_type_and_refuses_truncation() {
        // field 1 varint 300; field 2 bytes "hi"; field 3 fixed32 1.5f; field 4 fixed64.
        let mut msg = vec![0x08, 0xac, 0x02, 0x12, 2, b'h', b'i', 0x1d];
        msg.extend(1.5f32.to_le_bytes());
        msg.push(0x21);
        msg.extend(2.5f64.to_le_bytes());
        let mut r = Reader::new(&msg);
        assert_eq!(r.next_field().unwrap(), Some((1, Value::Varint(300))));
        assert_eq!(r.next_field().unwrap(), Some((2, Value::Bytes(b"hi"))));
        assert_eq!(
            r.next_field().unwrap(),
            Some((3, Value::Fixed32(1.5f32.to_bits())))
        );
        assert_eq!(
            r.next_field().unwrap(),
            Some((4, Value::Fixed64(2.5f64.to_bits())))
        );
        assert_eq!(r.next_field().unwrap(), None);
        for cut in 1..msg.len() {
            let mut r = Reader::new(&msg[..cut]);
            let mut result = Ok(Some((0, Value::Varint(0))));
            while let Ok(Some(_)) = result {
                result = r.next_field();
            }
            // Every prefix either ends cleanly at a field boundary or errs.
            assert!(result.is_err() || [3, 7, 12].contains(&cut), "cut {cut}");
        }
        assert!(Reader::new(&[0x0b]).next_field().is_err());
        assert!(packed_f32(&[0, 0, 0]).is_err());
    }
}
