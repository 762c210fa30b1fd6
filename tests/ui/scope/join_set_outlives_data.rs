// A ScopedJoinSet child may not borrow data dropped before the set.
fn main() {
    let mut set = tether::ScopedJoinSet::new();
    {
        let data = String::from("short-lived");
        set.spawn(async { data.len() });
    }
    futures::executor::block_on(set.join_all());
}
