//! Defaults written at the field they belong to: `#[serde(default = "Int::<300>::get")]` rather
//! than a `fn default_x() -> u64 { 300 }` per field (texts keep their small functions).

use crate::check::Integer;

/// The integer `N` as the field's type; a default out of the type's range does not compile.
pub struct Int<const N: i128>;

impl<const N: i128> Int<N> {
    pub fn get<T: Integer>() -> T {
        const {
            assert!(
                N >= T::MIN && N <= T::MAX,
                "default out of the field type's range"
            )
        };
        T::narrow(N)
    }
}

/// `true`, for switches that are on unless turned off.
pub fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_take_the_field_type() {
        let port: u16 = Int::<8000>::get();
        let attempts: i32 = Int::<3>::get();
        let bytes: usize = Int::<1_048_576>::get();
        assert_eq!((port, attempts, bytes), (8000, 3, 1_048_576));
        assert!(yes());
    }
}
