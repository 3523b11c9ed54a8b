fn main() {
    let bytes = std::fs::read(std::env::args().nth(1).unwrap()).unwrap();
    let mut e = vmscope::app::sessions::emulator::Emulator::new(158, 16);
    let r = e.process(&bytes);
    println!("replies: {:?}", String::from_utf8_lossy(&r));
    println!("{}", e.screen().contents());
    println!("cursor {:?}", e.screen().cursor_position());
}
