// A `scope_local` future may hold `!Send` children, so it is `!Send` and
// cannot be spawned onto the multi-thread runtime.
fn main() {
    let rt = tether::Runtime::new().unwrap();
    rt.block_on(async {
        tether::spawn(async {
            tether::scope_local(|s| async move {
                s.spawn_local(async { 1 }).await.unwrap()
            })
            .await
        });
    });
}
