//! A person's correction of a post-mortem (`akashic label`): pure, applied to the stored post-mortem.

use super::model::PostMortem;
use super::template;
use crate::core::category::Category;

/// Who confirmed a labelled post-mortem.
pub const PERSON: &str = "person";

/// Applies a person's label: the category (and root cause, when given) become theirs, recommendations
/// follow a changed category, and provenance says who decided what.
pub fn relabel(pm: &mut PostMortem, category: Category, root_cause: Option<&str>) {
    let changed = pm.category != category;
    if changed {
        if let Ok(recs) = template::recommendations(category, &pm.service, false, &[]) {
            pm.recommendations = recs;
        }
        pm.summary = format!(
            "{}: {} (corrected by a person from {}); detected by {}",
            pm.service, category, pm.category, pm.detection
        );
    }
    pm.category = category;
    if let Some(r) = root_cause.map(str::trim).filter(|r| !r.is_empty()) {
        pm.root_cause = r.to_string();
    }
    pm.confirmed_by = Some(PERSON.to_string());
    pm.provenance.retain(|p| !p.starts_with("label:"));
    pm.provenance.push(format!(
        "label: {} by a person{}",
        if changed { "corrected" } else { "confirmed" },
        if root_cause.is_some() {
            ", root cause theirs"
        } else {
            ""
        }
    ));
}
