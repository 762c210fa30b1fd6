// `main` cannot take parameters: the error points at the parameter list and
// rustc adds no complaint of its own about `main`'s signature.
#[tether::main]
async fn main(argc: usize, name: String) {
    let _ = (argc, name);
}
