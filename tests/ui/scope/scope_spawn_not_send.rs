// `Scope::spawn` requires `Send` children (they run on any worker); `!Send`
// children need `scope_local` + `spawn_local`.
fn main() {
    futures::executor::block_on(tether::scope(|s| async move {
        let rc = std::rc::Rc::new(1);
        s.spawn(async move {
            std::future::ready(()).await;
            *rc
        });
    }));
}
