// A child may not borrow data that dies before the scope future.
fn main() {
    let fut;
    {
        let data = vec![1, 2, 3];
        let data = &data;
        fut = tether::scope(|s| async move {
            s.spawn(async move { data.len() });
        });
    }
    futures::executor::block_on(fut);
}
