// A child may not borrow a local of the body: the body ends (and drops its
// locals) before the scope's children are guaranteed to be done.
fn main() {
    futures::executor::block_on(tether::scope(|s| async move {
        let local = String::from("inside");
        let local = &local;
        s.spawn(async move { local.len() });
    }));
}
