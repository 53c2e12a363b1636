//! The cost chart: daily spend as bars against the budget per day as a dashed red line,
//! drawn in memory with plotters' bitmap backend and encoded as PNG with `png`. The same
//! drawing serves any labelled bar chart ([`render_bars`]: the bot's incidents per
//! service), so the bot draws no chart of its own.
//!
//! Text needs a font and this crate brings its own, so a chart looks the same on every
//! host and no system font lookup (font-kit, fontconfig) is compiled in: DejaVu Sans
//! (`assets/DejaVuSans.ttf`, Bitstream Vera license with DejaVu changes in the public
//! domain; the notice is `assets/DejaVuSans-LICENSE.txt`), registered with plotters'
//! `ab_glyph` backend once per process.

use std::sync::OnceLock;

use jiff::civil::Date;
use plotters::{
    prelude::*,
    style::{FontStyle, register_font},
};
use rust_decimal::{Decimal, prelude::ToPrimitive};

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const WIDTH: u32 = 800;
const HEIGHT: u32 = 400;

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("nothing to draw: no days")]
    NoDays,
    #[error("the embedded font could not be loaded")]
    Font,
    #[error("drawing failed: {0}")]
    Draw(String),
    #[error("PNG encoding failed: {0}")]
    Encode(String),
}

/// What to draw.
#[derive(Clone, Debug)]
pub struct ChartSpec<'a> {
    pub title: &'a str,
    /// Every day of the period in order, with its spend (zero when none).
    pub days: &'a [(Date, Decimal)],
    /// The budget per day (period budget ÷ days in the period), drawn as a line.
    pub budget_per_day: Option<Decimal>,
    /// `USD`, for the axis label.
    pub currency: &'a str,
}

fn font_registered() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| register_font("sans-serif", FontStyle::Normal, FONT).is_ok())
}

/// Draws the chart and returns PNG bytes.
pub fn render(spec: &ChartSpec<'_>) -> Result<Vec<u8>, ChartError> {
    let bars: Vec<(String, f64)> = spec
        .days
        .iter()
        .map(|(day, amount)| (day.strftime("%m-%d").to_string(), to_f64(*amount)))
        .collect();
    render_columns(&Columns {
        title: spec.title,
        bars: &bars,
        y_desc: spec.currency,
        line: spec.budget_per_day.map(|b| (to_f64(b), "budget per day")),
    })
}

/// A labelled bar chart.
#[derive(Clone, Debug)]
pub struct BarSpec<'a> {
    pub title: &'a str,
    /// `(label, value)` in the order drawn.
    pub bars: &'a [(String, f64)],
    /// What the values count, for the axis label.
    pub y_desc: &'a str,
}

/// Draws a bar chart and returns PNG bytes.
pub fn render_bars(spec: &BarSpec<'_>) -> Result<Vec<u8>, ChartError> {
    render_columns(&Columns {
        title: spec.title,
        bars: spec.bars,
        y_desc: spec.y_desc,
        line: None,
    })
}

/// What both charts draw: labelled columns and, optionally, a dashed red level line
/// with its legend.
struct Columns<'a> {
    title: &'a str,
    bars: &'a [(String, f64)],
    y_desc: &'a str,
    line: Option<(f64, &'a str)>,
}

fn render_columns(spec: &Columns<'_>) -> Result<Vec<u8>, ChartError> {
    if spec.bars.is_empty() {
        return Err(ChartError::NoDays);
    }
    if !font_registered() {
        return Err(ChartError::Font);
    }
    let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    draw(spec, &mut pixels).map_err(|e| ChartError::Draw(e.to_string()))?;
    encode(&pixels)
}

fn to_f64(amount: Decimal) -> f64 {
    amount.to_f64().unwrap_or(0.0)
}

fn draw(spec: &Columns<'_>, pixels: &mut [u8]) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let highest = spec
        .bars
        .iter()
        .map(|(_, value)| *value)
        .chain(spec.line.map(|(level, _)| level))
        .fold(0.0_f64, f64::max);
    let top = if highest > 0.0 { highest * 1.15 } else { 1.0 };
    let count = spec.bars.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(spec.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..count as f64, 0f64..top)?;
    let bars = spec.bars;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(count.min(10))
        .x_label_formatter(&|x| {
            bars.get(x.floor() as usize)
                .map(|(label, _)| label.chars().take(18).collect())
                .unwrap_or_default()
        })
        .y_desc(spec.y_desc)
        .label_style(("sans-serif", 12))
        .draw()?;
    let bar = RGBColor(70, 130, 180);
    chart.draw_series(bars.iter().enumerate().map(|(index, (_, value))| {
        let x = index as f64;
        Rectangle::new([(x + 0.15, 0.0), (x + 0.85, *value)], bar.filled())
    }))?;
    if let Some((level, label)) = spec.line {
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, level), (count as f64, level)],
                8,
                5,
                RED.stroke_width(2),
            ))?
            .label(label)
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RED.stroke_width(2)));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 12))
            .draw()?;
    }
    root.present()?;
    Ok(())
}

fn encode(pixels: &[u8]) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| ChartError::Encode(e.to_string()))?;
    writer
        .write_image_data(pixels)
        .map_err(|e| ChartError::Encode(e.to_string()))?;
    writer
        .finish()
        .map_err(|e| ChartError::Encode(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn draws_a_png_of_the_days_and_the_budget() {
        let days: Vec<(Date, Decimal)> = (1..=7)
            .map(|d| (date(2026, 11, d), Decimal::new(i64::from(d) * 150, 2)))
            .collect();
        let png = render(&ChartSpec {
            title: "alice-openai: 7 days",
            days: &days,
            budget_per_day: Some(Decimal::new(10, 0)),
            currency: "USD",
        })
        .unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // Decodes back to an 800×400 RGB image that is not blank.
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let mut reader = decoder.read_info().unwrap();
        let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buffer).unwrap();
        assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
        let bar_pixels = buffer.chunks(3).filter(|p| p == &[70, 130, 180]).count();
        let red_pixels = buffer.chunks(3).filter(|p| p == &[255, 0, 0]).count();
        assert!(bar_pixels > 1000, "bars drawn: {bar_pixels}");
        assert!(red_pixels > 100, "budget line drawn: {red_pixels}");
    }

    #[test]
    fn no_days_is_an_error_not_a_panic() {
        let spec = ChartSpec {
            title: "empty",
            days: &[],
            budget_per_day: None,
            currency: "USD",
        };
        assert!(matches!(render(&spec), Err(ChartError::NoDays)));
    }

    #[test]
    fn draws_a_bar_chart_of_labelled_values() {
        let bars = vec![
            ("wrkhrs-gateway".to_string(), 4.0),
            ("ollama".to_string(), 1.0),
        ];
        let png = render_bars(&BarSpec {
            title: "Incidents per service",
            bars: &bars,
            y_desc: "incidents",
        })
        .unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let mut reader = decoder.read_info().unwrap();
        let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buffer).unwrap();
        assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
        assert!(buffer.chunks(3).filter(|p| p == &[70, 130, 180]).count() > 1000);
        assert!(matches!(
            render_bars(&BarSpec {
                title: "x",
                bars: &[],
                y_desc: "n"
            }),
            Err(ChartError::NoDays)
        ));
    }
}
