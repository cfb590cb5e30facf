//! `#[orion::trace]`: records the calls of a function, of every method of an `impl` block,
//! of a trait's default methods, or of every such item of an inline module, with their
//! arguments and return values (spec/OTRACE.md), through the `orion` crate's runtime.
//!
//! The body is kept as written, token for token, so that `line!()`, panic locations and
//! compiler messages point at the user's lines.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{
    parse_quote, Attribute, Block, Expr, FnArg, Ident, ImplItem, Item, Pat, ReturnType, Signature,
    TraitItem, Type,
};

/// Traces the function, `impl` block, trait or inline module it is put on.
#[proc_macro_attribute]
pub fn trace(args: TokenStream, item: TokenStream) -> TokenStream {
    if !args.is_empty() {
        let args = Tokens::from(args);
        return syn::Error::new(args.span(), "#[orion::trace] takes no arguments")
            .to_compile_error()
            .into();
    }
    match syn::parse::<Item>(item.clone()) {
        Ok(mut item) => {
            instrument_item(&mut item);
            item.into_token_stream().into()
        }
        // Anything else (an associated function alone parses as an item too) is left as is.
        Err(_) => item,
    }
}

fn instrument_item(item: &mut Item) {
    match item {
        Item::Fn(f) => {
            if let Some(block) = traced_body(&f.attrs, &f.sig, &f.block) {
                *f.block = block;
            }
        }
        Item::Impl(i) => {
            for member in &mut i.items {
                if let ImplItem::Fn(f) = member {
                    if let Some(block) = traced_body(&f.attrs, &f.sig, &f.block) {
                        f.block = block;
                    }
                }
            }
        }
        Item::Trait(t) => {
            for member in &mut t.items {
                if let TraitItem::Fn(f) = member {
                    if let Some(block) = f
                        .default
                        .as_ref()
                        .and_then(|b| traced_body(&f.attrs, &f.sig, b))
                    {
                        f.default = Some(block);
                    }
                }
            }
        }
        Item::Mod(m) => {
            for inner in m.content.iter_mut().flat_map(|(_, items)| items) {
                instrument_item(inner);
            }
        }
        _ => {}
    }
}

fn has_attribute(attrs: &[Attribute], name: &str) -> bool {
    attrs
        .iter()
        .any(|a| a.path().segments.last().is_some_and(|s| s.ident == name))
}

/// The body that records the call: the arguments on entry, the body's value on return (an
/// unwind if a panic leaves it). `const` and `async` functions are left untraced: a const
/// cannot call the runtime, and an async body's frames move between threads at `.await`.
fn traced_body(attrs: &[Attribute], sig: &Signature, body: &Block) -> Option<Block> {
    if sig.constness.is_some() || sig.asyncness.is_some() || sig.variadic.is_some() {
        return None;
    }
    if has_attribute(attrs, "skip") {
        return None;
    }
    let at = sig.ident.span();
    let call = Ident::new("__orion_call", Span::mixed_site());
    let value = Ident::new("__orion_value", Span::mixed_site());
    let captures = sig.inputs.iter().filter_map(|input| {
        let (name, tokens) = match input {
            FnArg::Receiver(r) => ("self".to_string(), r.self_token.to_token_stream()),
            FnArg::Typed(typed) => match &*typed.pat {
                Pat::Ident(p) if p.subpat.is_none() => {
                    (p.ident.to_string(), p.ident.to_token_stream())
                }
                _ => return None, // a destructuring pattern has no one name
            },
        };
        Some(quote! { (#name, (&::orion::__private::Wrap(&#tokens)).capture()) })
    });
    let test = if has_attribute(attrs, "test") {
        let (panics, name) = (has_attribute(attrs, "should_panic"), sig.ident.to_string());
        quote! { ::orion::__private::test_starts(#panics, concat!(module_path!(), "::", #name)); }
    } else {
        Tokens::new()
    };
    let captures = quote! { #(#captures),* };
    let opening = opening_call(at, &captures);
    let enter = quote_spanned! {at=>
        #test
        let #call = #opening;
    };
    let mut body = body.clone();
    Closures.visit_block_mut(&mut body);
    let returns_value = match &sig.output {
        ReturnType::Default => false,
        ReturnType::Type(_, ty) => !matches!(**ty, Type::Never(_)),
    };
    if !returns_value {
        return Some(parse_quote! {{ #enter #body }});
    }
    let annotation = match &sig.output {
        ReturnType::Type(_, ty) if !mentions(ty, &["impl"]) => quote! { : #ty },
        _ => Tokens::new(), // `impl Trait` cannot be named in a `let`; inference finds it
    };
    let mut early = EarlyReturns {
        call: &call,
        value: &value,
        annotation: &annotation,
    };
    early.visit_block_mut(&mut body);
    let returns = returning(&call, &value, &annotation, body.to_token_stream());
    Some(parse_quote! {{
        #enter
        #returns
    }})
}

/// The expression that opens a call of the function (or closure) whose body it starts,
/// named after where it is (`type_name_of_val` of an item nested there) and placed at `at`'s
/// line, with the arguments `captures` gives when values are recorded.
fn opening_call(at: Span, captures: &Tokens) -> Tokens {
    quote_spanned! {at=>
        {
            #[allow(unused_imports)]
            use ::orion::__private::{CaptureDebug as _, CaptureName as _};
            fn __orion_here() {}
            static FUNCTION: ::orion::__private::AtomicU32 =
                ::orion::__private::AtomicU32::new(u32::MAX);
            let function = ::orion::__private::function_id(
                &FUNCTION, ::std::any::type_name_of_val(&__orion_here), file!(), line!());
            ::orion::__private::enter(function, || ::std::vec![#captures])
        }
    }
}

/// Gives each closure of the body (nested closures too, not those of nested items or
/// `const` blocks) a call of its own, `outer::{closure}` at the closure's line. Its
/// signature is left as written, so type inference sees the same closure: its arguments are
/// captured only when every parameter names its type in full (capturing an argument whose
/// type is still being inferred would need the type first), and its return value never is.
struct Closures;

impl VisitMut for Closures {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Closure(closure)
                if closure.asyncness.is_none() && closure.constness.is_none() =>
            {
                visit_mut::visit_expr_closure_mut(self, closure);
                let call = Ident::new("__orion_closure_call", Span::mixed_site());
                let opening = opening_call(closure.inputs_begin.span(), &closure_captures(closure));
                let guard: syn::Stmt = parse_quote! { let #call = #opening; };
                match &mut *closure.body {
                    // Into the block itself: a block inside ours would be `unused_braces`.
                    Expr::Block(b) if b.label.is_none() && b.attrs.is_empty() => {
                        b.block.stmts.insert(0, guard)
                    }
                    body => *body = parse_quote! {{ #guard #body }},
                }
            }
            Expr::Const(_) | Expr::Async(_) => {}
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_item_mut(&mut self, _: &mut Item) {}
}

/// The captures of a closure's arguments: all of them when every one is a plain name with a
/// fully written type (no `_`, no `impl`), else none.
fn closure_captures(closure: &syn::ExprClosure) -> Tokens {
    let mut captures = Vec::new();
    for input in &closure.inputs {
        let Pat::Type(typed) = input else {
            return Tokens::new();
        };
        let Pat::Ident(p) = &*typed.pat else {
            return Tokens::new();
        };
        if p.subpat.is_some() || !fully_written(&typed.ty) {
            return Tokens::new();
        }
        let (name, ident) = (p.ident.to_string(), &p.ident);
        captures.push(quote! { (#name, (&::orion::__private::Wrap(&#ident)).capture()) });
    }
    quote! { #(#captures),* }
}

/// Whether a type is written out with nothing left to inference (`_`) or opaque (`impl`).
fn fully_written(ty: &Type) -> bool {
    !mentions(ty, &["impl", "_"])
}

/// Statements that evaluate `expr`, record its value as the call's return and give it back.
fn returning(call: &Ident, value: &Ident, annotation: &Tokens, expr: Tokens) -> Tokens {
    quote! {
        #[allow(unreachable_code, clippy::let_and_return, clippy::diverging_sub_expression)]
        let #value #annotation = #expr;
        #[allow(unreachable_code)]
        {
            #[allow(unused_imports)]
            use ::orion::__private::{CaptureDebug as _, CaptureName as _};
            #call.returned(|| (&::orion::__private::Wrap(&#value)).capture());
        }
        #[allow(unreachable_code)]
        #value
    }
}

/// Gives each `return value;` of the body (not those of its closures, async blocks or
/// nested items) the capture of its value. A `?` that returns early is recorded as a
/// return without a value.
struct EarlyReturns<'a> {
    call: &'a Ident,
    value: &'a Ident,
    annotation: &'a Tokens,
}

impl VisitMut for EarlyReturns<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Closure(_) | Expr::Async(_) => {}
            Expr::Return(ret) => {
                if let Some(returned) = ret.expr.as_mut() {
                    self.visit_expr_mut(returned);
                    let block = returning(
                        self.call,
                        self.value,
                        self.annotation,
                        returned.to_token_stream(),
                    );
                    **returned = parse_quote! {{ #block }};
                }
            }
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_item_mut(&mut self, _: &mut Item) {}
}

/// Whether any of `words` appears in the type's tokens (`_` is an identifier to the lexer).
fn mentions(ty: &Type, words: &[&str]) -> bool {
    fn has(tokens: Tokens, words: &[&str]) -> bool {
        tokens.into_iter().any(|t| match t {
            proc_macro2::TokenTree::Ident(i) => words.iter().any(|w| i == w),
            proc_macro2::TokenTree::Group(g) => has(g.stream(), words),
            _ => false,
        })
    }
    has(ty.to_token_stream(), words)
}
