//! `string_enum!`: closed string enums that serialise exactly as spelled in
//! the reference, with `ALL`, `as_str`, `Display` and `FromStr`.

/// Error returned by `FromStr` on the crate's string enums.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownVariant {
    /// Rust name of the enum.
    pub type_name: &'static str,
    /// The rejected input.
    pub value: String,
    /// Accepted spellings.
    pub expected: &'static [&'static str],
}

impl std::fmt::Display for UnknownVariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown {} `{}`, expected one of: {}", self.type_name, self.value, self.expected.join(", "))
    }
}

impl std::error::Error for UnknownVariant {}

macro_rules! string_enum {
    (
        $(#[doc = $doc:literal])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal, )+
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $value)] $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];
            /// Every accepted spelling, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($value,)+];

            /// The exact spelling used in YAML/JSON.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $value, )+
                }
            }
        }

        /// A flat `{"type": "string", "enum": [...]}` schema, so validators
        /// report "not one of [...]" instead of a `oneOf` failure.
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let description = [$($doc),*]
                    .iter()
                    .map(|line| line.trim())
                    .collect::<Vec<_>>()
                    .join(" ");
                schemars::json_schema!({
                    "description": description.trim(),
                    "type": "string",
                    "enum": Self::NAMES,
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $value => Ok($name::$variant), )+
                    _ => Err($crate::UnknownVariant {
                        type_name: stringify!($name),
                        value: s.to_owned(),
                        expected: Self::NAMES,
                    }),
                }
            }
        }
    };
}
