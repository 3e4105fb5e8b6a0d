//! Struct names made unique within a generated module: a request and its response may each
//! define a nested struct of the same name with different fields.

use crate::schema::{Message, Type};

/// Renames a nested struct of a later message that shares a name with a different struct of
/// an earlier one in the module (AlterClientQuotas' request and response each have their own
/// `EntryData`): the later one becomes `<Message><Struct>` (`AlterClientQuotasResponseEntryData`),
/// and that message's fields of the type follow. Identical structs stay shared.
pub fn disambiguate(msgs: &[Message]) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::with_capacity(msgs.len());
    for m in msgs {
        let mut m = m.clone();
        let mut renames: Vec<(String, String)> = Vec::new();
        for (i, s) in m.structs.iter().enumerate() {
            let clash = out
                .iter()
                .flat_map(|p| p.structs.iter())
                .any(|p| p.name == s.name && p.fields != s.fields);
            if clash && i != 0 {
                renames.push((s.name.clone(), format!("{}{}", m.name, s.name)));
            }
        }
        if !renames.is_empty() {
            for s in &mut m.structs {
                if let Some((_, new)) = renames.iter().find(|(old, _)| *old == s.name) {
                    s.name = new.clone();
                }
                for f in &mut s.fields {
                    rename_type(&mut f.ty, &renames);
                }
            }
        }
        out.push(m);
    }
    out
}

fn rename_type(ty: &mut Type, renames: &[(String, String)]) {
    match ty {
        Type::Struct(name) => {
            if let Some((_, new)) = renames.iter().find(|(old, _)| old == name) {
                *name = new.clone();
            }
        }
        Type::Array(inner) => rename_type(inner, renames),
        _ => {}
    }
}
