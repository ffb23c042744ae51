//! The variables a settings struct reads, taken from its `Deserialize` implementation (for the
//! configuration agreement test and each service's `variables()`).

use serde::de::DeserializeOwned;

/// The environment variables a settings struct reads: its serde field names, upper-cased. Read
/// from the struct's `Deserialize` implementation itself (the field list serde passes to
/// `deserialize_struct`), so it cannot drift from the code; `#[serde(skip)]` fields are not
/// variables and are left out.
pub fn variable_names<T: DeserializeOwned>() -> Vec<String> {
    let mut capture = FieldCapture { fields: &[] };
    let _ = T::deserialize(&mut capture);
    capture
        .fields
        .iter()
        .map(|f| f.to_ascii_uppercase())
        .collect()
}

/// A deserializer that only records the field list of the struct asked of it.
struct FieldCapture {
    fields: &'static [&'static str],
}

impl<'de> serde::Deserializer<'de> for &mut FieldCapture {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.fields = fields;
        Err(serde::de::Error::custom("field names captured"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}
