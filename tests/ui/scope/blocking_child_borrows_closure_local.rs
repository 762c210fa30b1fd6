// A blocking-scope child may not borrow a local of the scope's closure:
// the closure returns before the scope waits for its children.
fn main() {
    let rt = tether::Runtime::new().unwrap();
    rt.scope(|s| {
        let local = 5;
        s.spawn(async { local + 1 });
    });
}
