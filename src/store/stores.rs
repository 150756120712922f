//! The store the app runs on, whichever database holds it: the traits as trait objects
//! (all downstream code sees only those), plus the concrete store for what is not a trait's
//! business — closing it, and tests' and `migrate-store`'s direct access.

use std::sync::Arc;

use super::{
    BookingStore, ChatStore, CrmStore, DealStore, JobStore, Location, PgStore, ReportStore, SqliteStore, Store,
    StoreResult, UserStore,
};

/// The concrete store behind [`Stores`].
#[derive(Debug, Clone)]
pub enum Backend {
    Postgres(PgStore),
    Sqlite(SqliteStore),
}

#[derive(Clone)]
pub struct Stores {
    pub store: Arc<dyn Store>,
    pub crm: Arc<dyn CrmStore>,
    pub chats: Arc<dyn ChatStore>,
    pub jobs: Arc<dyn JobStore>,
    pub deals: Arc<dyn DealStore>,
    pub users: Arc<dyn UserStore>,
    pub reports: Arc<dyn ReportStore>,
    pub bookings: Arc<dyn BookingStore>,
    pub backend: Backend,
    pub location: Location,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stores({})", self.location)
    }
}

/// One store behind all the traits.
struct Traits {
    store: Arc<dyn Store>,
    crm: Arc<dyn CrmStore>,
    chats: Arc<dyn ChatStore>,
    jobs: Arc<dyn JobStore>,
    deals: Arc<dyn DealStore>,
    users: Arc<dyn UserStore>,
    reports: Arc<dyn ReportStore>,
    bookings: Arc<dyn BookingStore>,
}

fn traits_of<
    S: Store + CrmStore + ChatStore + JobStore + DealStore + UserStore + ReportStore + BookingStore + Clone,
>(
    s: &S,
) -> Traits {
    let s = Arc::new(s.clone());
    Traits {
        store: s.clone(),
        crm: s.clone(),
        chats: s.clone(),
        jobs: s.clone(),
        deals: s.clone(),
        users: s.clone(),
        reports: s.clone(),
        bookings: s,
    }
}

impl Stores {
    /// Opens (creating and migrating) the database at `location`.
    pub async fn open(location: &Location, max_connections: u32) -> StoreResult<Stores> {
        let backend = match location {
            Location::Postgres(url) => Backend::Postgres(PgStore::connect(url, max_connections).await?),
            Location::Sqlite(path) => Backend::Sqlite(SqliteStore::connect(path, max_connections).await?),
        };
        Ok(Stores::from_backend(backend, location.clone()))
    }

    /// A store that connects on first use, migrates nothing and claims nothing (for commands
    /// that may never touch the database).
    pub fn lazy(location: &Location) -> StoreResult<Stores> {
        let backend = match location {
            Location::Postgres(url) => Backend::Postgres(PgStore::connect_lazy(url)?),
            Location::Sqlite(path) => Backend::Sqlite(SqliteStore::connect_lazy(path)?),
        };
        Ok(Stores::from_backend(backend, location.clone()))
    }

    /// For a short administrative command beside a running leadbot (`operator-token`): the
    /// embedded file, when it exists, is opened without taking it from the service; otherwise
    /// (PostgreSQL, or no file yet) as `open`.
    pub async fn open_beside_service(location: &Location) -> StoreResult<Stores> {
        match location {
            Location::Sqlite(path) if path.is_file() => Stores::lazy(location),
            _ => Stores::open(location, 2).await,
        }
    }

    pub fn from_backend(backend: Backend, location: Location) -> Stores {
        let Traits {
            store,
            crm,
            chats,
            jobs,
            deals,
            users,
            reports,
            bookings,
        } = match &backend {
            Backend::Postgres(s) => traits_of(s),
            Backend::Sqlite(s) => traits_of(s),
        };
        Stores {
            store,
            crm,
            chats,
            jobs,
            deals,
            users,
            reports,
            bookings,
            backend,
            location,
        }
    }

    /// Closes the connections (and, for the embedded store, lets the file go).
    pub async fn close(&self) {
        match &self.backend {
            Backend::Postgres(s) => s.pool().close().await,
            Backend::Sqlite(s) => s.close().await,
        }
    }

    pub fn pg_pool(&self) -> Option<&sqlx::PgPool> {
        match &self.backend {
            Backend::Postgres(s) => Some(s.pool()),
            Backend::Sqlite(_) => None,
        }
    }

    pub fn sqlite(&self) -> Option<&SqliteStore> {
        match &self.backend {
            Backend::Sqlite(s) => Some(s),
            Backend::Postgres(_) => None,
        }
    }
}
