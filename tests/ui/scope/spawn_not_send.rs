// A `!Send` future cannot be spawned on the runtime.
fn main() {
    let rt = tether::Runtime::new().unwrap();
    rt.block_on(async {
        let rc = std::rc::Rc::new(1);
        tether::spawn(async move {
            std::future::ready(()).await;
            *rc
        });
    });
}
