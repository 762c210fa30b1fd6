// Every option takes a value; the message shows how to write it.
#[tether::main(flavor)]
async fn main() {}

#[tether::test(flavor = "multi_thread", worker_threads(2))]
async fn call_syntax() {}
