//! A source file with `#[::orion::trace]` put before every function, `impl` block and trait
//! with default methods, at any depth of inline modules. Only text is inserted, on the
//! lines where those items start, so every other line keeps its number.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
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
            Item::Macro(m) if m.mac.path.is_ident("macro_rules") => {
                if !m.attrs.iter().any(|a| a.path().is_ident("macro_export")) {
                    collect_in_macro_rules(m.mac.tokens.clone(), starts);
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

/// The starts of the functions with a body that a `macro_rules!` macro's transcribers
/// (the right-hand sides of its rules, not its matchers) write: the attribute goes into the
/// macro's text, so that each function it generates is traced where it is expanded. A
/// `#[macro_export]` macro is left alone: it expands in other crates too, which do not
/// link the runtime.
fn collect_in_macro_rules(rules: TokenStream, starts: &mut Vec<usize>) {
    let rules: Vec<TokenTree> = rules.into_iter().collect();
    for (i, tree) in rules.iter().enumerate() {
        let after_arrow = i >= 2
            && matches!(&rules[i - 1], TokenTree::Punct(p) if p.as_char() == '>')
            && matches!(&rules[i - 2], TokenTree::Punct(p) if p.as_char() == '=');
        if let (true, TokenTree::Group(transcriber)) = (after_arrow, tree) {
            collect_functions(transcriber.stream(), starts);
        }
    }
}

/// The starts of `fn NAME ... { ... }` items at any depth of a token stream (a `fn` followed
/// by `(` is a function pointer type, one followed by `;` a declaration without a body),
/// each with its qualifiers (`pub(crate)`, `$vis`, `unsafe`, `extern "C"`); `const fn` and
/// `async fn`, which the attribute leaves untraced, are skipped.
fn collect_functions(stream: TokenStream, starts: &mut Vec<usize>) {
    let trees: Vec<TokenTree> = stream.into_iter().collect();
    for (i, tree) in trees.iter().enumerate() {
        // The rules of a macro that this one defines: their matchers must stay as written.
        let nested_rules = i >= 3
            && matches!(&trees[i - 3], TokenTree::Ident(m) if m == "macro_rules")
            && matches!(&trees[i - 2], TokenTree::Punct(p) if p.as_char() == '!');
        match tree {
            TokenTree::Group(g) if !nested_rules => collect_functions(g.stream(), starts),
            TokenTree::Ident(keyword) if keyword == "fn" => {
                let named = matches!(trees.get(i + 1), Some(TokenTree::Ident(_)))
                    || matches!(trees.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == '$');
                let body = trees[i + 1..]
                    .iter()
                    .find(|t| match t {
                        TokenTree::Group(g) => g.delimiter() == Delimiter::Brace,
                        TokenTree::Punct(p) => p.as_char() == ';',
                        _ => false,
                    })
                    .is_some_and(|t| matches!(t, TokenTree::Group(_)));
                let start = item_start(&trees, i);
                let untraced = trees[start..i]
                    .iter()
                    .any(|t| matches!(t, TokenTree::Ident(q) if q == "const" || q == "async"));
                if named && body && !untraced {
                    starts.push(start_of(trees[start].span()));
                }
            }
            _ => {}
        }
    }
}

/// Where the function whose `fn` keyword is at `at` starts: before its qualifiers and
/// outer attributes (`#[test]` must stay after ours, which looks for it), a `$(#[$m])*`
/// repetition of them included.
fn item_start(trees: &[TokenTree], at: usize) -> usize {
    let punct = |i: usize, c: char| matches!(&trees[i], TokenTree::Punct(p) if p.as_char() == c);
    let group =
        |i: usize, d: Delimiter| matches!(&trees[i], TokenTree::Group(g) if g.delimiter() == d);
    let mut start = at;
    while start > 0 {
        let previous = &trees[start - 1];
        let attribute = start >= 2 && group(start - 1, Delimiter::Bracket) && punct(start - 2, '#');
        let repetition = start >= 3
            && (punct(start - 1, '*') || punct(start - 1, '?'))
            && matches!(&trees[start - 2], TokenTree::Group(g) if only_attributes(g.stream()))
            && punct(start - 3, '$');
        if repetition {
            start -= 3;
            continue;
        }
        let fragment = attribute
            || start >= 2 && matches!(previous, TokenTree::Ident(_)) && punct(start - 2, '$');
        let qualifier = match previous {
            TokenTree::Ident(q) => [
                "pub", "unsafe", "const", "async", "extern", "default", "safe",
            ]
            .iter()
            .any(|k| q == k),
            TokenTree::Literal(_) => true, // an ABI: extern "C"
            TokenTree::Group(g) => {
                g.delimiter() == Delimiter::Parenthesis
                    && start >= 2
                    && matches!(&trees[start - 2], TokenTree::Ident(p) if p == "pub")
            }
            TokenTree::Punct(_) => false,
        };
        if fragment {
            start -= 2;
        } else if qualifier {
            start -= 1;
        } else {
            break;
        }
    }
    start
}

/// Whether a stream is outer attributes alone (`#[...] #[...]`), as in `$(#[$m])*`.
fn only_attributes(stream: TokenStream) -> bool {
    let trees: Vec<TokenTree> = stream.into_iter().collect();
    !trees.is_empty()
        && trees.chunks(2).all(|pair| {
            matches!(pair, [TokenTree::Punct(p), TokenTree::Group(g)]
                if p.as_char() == '#' && g.delimiter() == Delimiter::Bracket)
        })
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
    fn functions_that_a_macro_rules_macro_writes_get_the_attribute() {
        let source = "macro_rules! getters {\n    ($($name:ident: $t:ty),*) => {\n        \
                      $(pub(crate) fn $name(&self) -> $t { self.$name })*\n        \
                      $vis fn plain() { let f: fn(u32) = drop; }\n        \
                      unsafe extern \"C\" fn c_abi() {}\n        \
                      const fn fixed() {}\n        fn declared();\n    };\n}\n\
                      #[macro_export]\nmacro_rules! shared { () => { fn s() {} } }\n";
        let out = instrument(source).unwrap();
        assert_eq!(out.lines().count(), source.lines().count());
        assert!(
            out.contains("$(#[::orion::trace] pub(crate) fn $name"),
            "{out}"
        );
        assert!(
            out.contains("#[::orion::trace] $vis fn plain() { let f: fn(u32)"),
            "{out}"
        );
        assert!(
            out.contains("#[::orion::trace] unsafe extern \"C\" fn c_abi"),
            "{out}"
        );
        assert!(
            out.contains(" const fn fixed") && out.contains(" fn declared();"),
            "{out}"
        );
        assert!(out.contains("($($name:ident: $t:ty),*)"), "{out}"); // the matcher
        assert!(out.contains("=> { fn s() {} }"), "{out}"); // #[macro_export]
        assert_eq!(out.matches(ATTRIBUTE).count(), 3, "{out}");
    }

    #[test]
    fn a_macro_that_a_macro_defines_is_left_as_written() {
        let source = "macro_rules! outer {\n    () => {\n        \
                      macro_rules! inner { (fn $n:ident) => { fn $n() {} }; }\n    };\n}\n";
        assert_eq!(instrument(source).unwrap(), source);
    }

    #[test]
    fn a_macro_written_function_gets_the_attribute_before_its_own_attributes() {
        let source = "macro_rules! cases {\n    ($($name:ident),*) => {\n        \
                      $(#[test] fn $name() {})*\n        \
                      $(#[$m:meta])* pub fn with_meta() {}\n    };\n}\n";
        let out = instrument(source).unwrap();
        assert!(
            out.contains("$(#[::orion::trace] #[test] fn $name"),
            "{out}"
        );
        assert!(
            out.contains("#[::orion::trace] $(#[$m:meta])* pub fn with_meta"),
            "{out}"
        );
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
