// `tether::spawn` still requires `'static`: this is the program from the
// seed article, and it must keep failing with E0597.
async fn foo(a: &u32) -> u32 {
    *a
}

fn main() {
    let rt = tether::Runtime::new().unwrap();
    rt.block_on(async {
        let a = 2;
        tether::spawn(foo(&a));
    });
}
