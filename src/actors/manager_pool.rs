//! Picks managers. Owns the round-robin positions in memory (restored from the database at
//! start) so a decision never waits on a recount.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::config::RoutingConfig;
use crate::domain::ManagerRef;
use crate::routing::{choose_group, RoundRobin};
use crate::store::Store;

pub enum PoolMsg {
    /// A manager for a lead from `channel` whose client wrote `text`; `None` when nobody can take it.
    Assign {
        channel: String,
        text: String,
        reply: RpcReplyPort<Option<ManagerRef>>,
    },
}

pub struct ManagerPool;

pub struct PoolState {
    config: RoutingConfig,
    rr: RoundRobin,
    store: Arc<dyn Store>,
}

impl Actor for ManagerPool {
    type Msg = PoolMsg;
    type State = PoolState;
    type Arguments = (RoutingConfig, Arc<dyn Store>);

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        (config, store): Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let positions = store.load_cursors().await?;
        Ok(PoolState {
            config,
            rr: RoundRobin::with_positions(positions),
            store,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            PoolMsg::Assign { channel, text, reply } => {
                let group = choose_group(&state.config, &channel, &text).to_string();
                let picked = state.rr.next(&state.config, &group);
                if let Some((_, position)) = &picked {
                    // A lost write only skews fairness by one after a crash; never block a lead on it.
                    if let Err(e) = state.store.save_cursor(&group, *position).await {
                        tracing::warn!(group, error = %e, "could not save round-robin position");
                    }
                }
                let _ = reply.send(picked.map(|(m, _)| m));
            }
        }
        Ok(())
    }
}
