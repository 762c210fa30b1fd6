// `Scope<'env>` is invariant: it cannot be shortened to spawn a child that
// borrows a value living in a nested block of the body.
fn spawn_short<'short>(s: &tether::Scope<'short>, v: &'short u32) {
    s.spawn(async move { *v });
}

fn main() {
    let x = 1;
    let x = &x;
    futures::executor::block_on(tether::scope(|s| async move {
        let _ = x;
        {
            let short = 5;
            spawn_short(&s, &short);
        }
    }));
}
