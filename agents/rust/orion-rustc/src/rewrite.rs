//! A source file with `#[::orion::trace]` put before every function, `impl` block and trait
//! with default methods, at any depth of inline modules. Only text is inserted, on the
//! lines where those items start, so every other line keeps its number.

use proc_macro2::Span;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Item, TraitItem};

pub const ATTRIBUTE: &str = "#[::orion::trace] ";

/// The file's text with the attribute added, or None when it cannot be parsed.
pub fn instrument(source: &str) -> Option<String> {
    let file = syn::parse_file(source).ok()?;
    let mut starts = Vec::new();
    collect(&file.items, &mut starts);
    let mut text = source.to_string();
    starts.sort_unstable();
    for start in starts.into_iter().rev() {
        text.insert_str(start, ATTRIBUTE);
    }
    Some(text)
}

/// Whether a crate root may forbid the standard library, `#![no_std]` or
/// `#![cfg_attr(..., no_std)]` (such a crate is left uninstrumented: the runtime needs std).
pub fn is_no_std(source: &str) -> bool {
    syn::parse_file(source).is_ok_and(|f| {
        f.attrs
            .iter()
            .any(|a| a.to_token_stream().to_string().contains("no_std"))
    })
}

fn collect(items: &[Item], starts: &mut Vec<usize>) {
    for item in items {
        let traced = match item {
            Item::Fn(f) => f.sig.constness.is_none() && f.sig.asyncness.is_none(),
            Item::Impl(_) => true,
            Item::Trait(t) => t
                .items
                .iter()
                .any(|i| matches!(i, TraitItem::Fn(f) if f.default.is_some())),
            Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    collect(inner, starts);
                }
                false
            }
            _ => false,
        };
        if traced {
            starts.push(start_of(item.span()));
        }
    }
}

fn start_of(span: Span) -> usize {
    span.byte_range().start
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_impls_traits_and_inline_modules_get_the_attribute() {
        let source = "use std::fmt;\n/// Doc.\nfn a() {}\nstruct S;\nimpl S { fn b(&self) {} }\n\
                      trait T { fn c(&self) {} }\ntrait U { fn d(&self); }\n\
                      mod m {\n    #[test]\n    fn e() {}\n}\nconst fn f() {}\nasync fn g() {}\n";
        let out = instrument(source).unwrap();
        assert_eq!(out.lines().count(), source.lines().count());
        assert!(
            out.contains("#[::orion::trace] /// Doc.\nfn a() {}"),
            "{out}"
        );
        assert!(out.contains("#[::orion::trace] impl S"), "{out}");
        assert!(out.contains("#[::orion::trace] trait T"), "{out}");
        assert!(out.contains("\ntrait U"), "{out}");
        assert!(
            out.contains("    #[::orion::trace] #[test]\n    fn e"),
            "{out}"
        );
        assert!(
            out.contains("\nconst fn f") && out.contains("\nasync fn g"),
            "{out}"
        );
        assert!(out.contains("\nmod m {"), "{out}");
    }

    #[test]
    fn a_second_file_is_measured_from_its_own_start() {
        let first = instrument("fn a() {}\n").unwrap();
        let second = instrument("\n\nfn b() {}\n").unwrap();
        assert_eq!(first, "#[::orion::trace] fn a() {}\n");
        assert_eq!(second, "\n\n#[::orion::trace] fn b() {}\n");
    }

    #[test]
    fn no_std_and_unparsable_files_are_left_alone() {
        assert!(is_no_std("#![no_std]\nfn a() {}\n"));
        assert!(is_no_std("#![cfg_attr(not(test), no_std)]\n"));
        assert!(!is_no_std("fn a() {}\n"));
        assert_eq!(instrument("fn a( {"), None);
    }

    #[test]
    fn multibyte_text_before_an_item() {
        let out = instrument("// é ü 日本\nfn a() {}\n").unwrap();
        assert_eq!(out, "// é ü 日本\n#[::orion::trace] fn a() {}\n");
    }
}
