//! `history`: `kubectl rollout history deployment/NAME`, with the images of each revision.
//!
//! The current revision is the one the deployment's own `deployment.kubernetes.io/revision`
//! names; when that annotation is missing, the revision whose template equals the
//! deployment's (the controller's "new ReplicaSet").

use opsbot_commands::context::Revision;

use crate::{
    KubeError,
    revisions::{CHANGE_CAUSE_ANNOTATION, revision_of, revisions},
    rollback::images,
    session::Session,
    template::templates_equal_ignoring_hash,
};

pub(crate) async fn history(session: &Session<'_>) -> Result<Vec<Revision>, KubeError> {
    let deployment = session.get_deployment().await?;
    let current_template = deployment.spec.as_ref().map(|spec| &spec.template);
    let current_revision = revision_of(&deployment.metadata);
    let revisions = revisions(session, &deployment).await?;
    Ok(revisions
        .into_iter()
        .map(|rs| {
            let template = rs
                .replica_set
                .spec
                .as_ref()
                .and_then(|s| s.template.as_ref());
            let current = match current_revision {
                Some(current) => current == rs.revision,
                None => match (template, current_template) {
                    (Some(a), Some(b)) => templates_equal_ignoring_hash(a, b),
                    _ => false,
                },
            };
            Revision {
                number: rs.revision,
                // A rollback re-uses the ReplicaSet under a new number; its name stays.
                id: rs.replica_set.metadata.name.clone(),
                images: template.map(images).unwrap_or_default(),
                created: rs
                    .replica_set
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|time| time.0),
                change_cause: rs
                    .replica_set
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(CHANGE_CAUSE_ANNOTATION).cloned()),
                current,
            }
        })
        .collect())
}
