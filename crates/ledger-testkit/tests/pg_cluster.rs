//! The throwaway PostgreSQL cluster starts, listens, survives a crash
//! restart and is gone after drop.

use ledger_testkit::pg::PgCluster;

#[test]
fn cluster_starts_restarts_and_stops() {
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    let addr = ("127.0.0.1", pg.port());
    assert!(std::net::TcpStream::connect(addr).is_ok(), "server listens");
    pg.kill().expect("immediate stop");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "server stopped"
    );
    pg.restart().expect("restart");
    assert!(std::net::TcpStream::connect(addr).is_ok(), "server back");
    let port = pg.port();
    drop(pg);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "dropped cluster still listens"
    );
}
