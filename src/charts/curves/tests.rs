use super::*;

#[test]
fn the_curve_and_the_density_map_back_to_the_data() {
    let x: Vec<f64> = (0..=20).map(|i| -2.0 + 0.25 * i as f64).collect();
    let chart = CurveChart {
        title: "relu <&>".into(),
        subtitle: "s".into(),
        panels: vec![CurvePanel {
            heading: "layer 0".into(),
            notes: vec![Note {
                text: "dead: 1 of 3".into(),
                attrs: vec![("data-count", "1".into())],
            }],
            x_label: "pre".into(),
            y_label: "post".into(),
            y: x.iter().map(|v| v.max(0.0)).collect(),
            x,
            edges: vec![-2.0, 0.0, 1.0, 3.0],
            counts: vec![4, 8, 2],
            marks: vec![0.0, 9.0],
            thin: Vec::new(),
            rug: Vec::new(),
            dots: false,
            x_names: Vec::new(),
        }],
    };
    let svg = render(&chart);
    let doc = roxmltree::Document::parse(&svg).expect("valid XML");
    let by_class = |c: &str| -> Vec<roxmltree::Node> {
        doc.descendants()
            .filter(|n| n.attribute("class") == Some(c))
            .collect()
    };
    let f = |n: &roxmltree::Node, a: &str| n.attribute(a).unwrap().parse::<f64>().unwrap();
    let plot = by_class("plot")[0];
    assert_eq!(
        (f(&plot, "data-x-min"), f(&plot, "data-x-max")),
        (-2.0, 3.0)
    );
    let heights: Vec<f64> = by_class("density").iter().map(|n| f(n, "height")).collect();
    // Heights are count / 8 × plot height.
    assert_eq!(heights, vec![85.0, 170.0, 42.5]);
    assert_eq!(by_class("mark").len(), 1, "9 is outside the range");
    let points = by_class("curve")[0].attribute("points").unwrap();
    assert_eq!(points.split(' ').count(), 21);
    assert!(svg.contains("relu &lt;&amp;&gt;"));
    assert_eq!(by_class("note")[0].attribute("data-count"), Some("1"));
    assert_eq!(svg, render(&chart));
}

#[test]
fn thin_curves_widen_the_axis_and_the_rug_and_dots_sit_on_the_grid() {
    let chart = CurveChart {
        title: "pd".into(),
        subtitle: String::new(),
        panels: vec![CurvePanel {
            heading: "output: y".into(),
            notes: Vec::new(),
            x_label: "x".into(),
            y_label: "y".into(),
            x: vec![1.0, 2.0, 4.0],
            y: vec![10.0, 20.0, 30.0],
            edges: Vec::new(),
            counts: Vec::new(),
            marks: Vec::new(),
            thin: vec![vec![0.0, 5.0, 8.0], vec![20.0, 35.0, 52.0]],
            rug: vec![1.0, 2.0, 4.0, 7.0],
            dots: true,
            x_names: Vec::new(),
        }],
    };
    let svg = render(&chart);
    let doc = roxmltree::Document::parse(&svg).expect("valid XML");
    let by_class = |c: &str| -> Vec<roxmltree::Node> {
        doc.descendants()
            .filter(|n| n.attribute("class") == Some(c))
            .collect()
    };
    let f = |n: &roxmltree::Node, a: &str| n.attribute(a).unwrap().parse::<f64>().unwrap();
    let plot = by_class("plot")[0];
    // The y axis covers the thin curves (0 to 52), not only the main one.
    assert!(f(&plot, "data-y-min") <= 0.0 && f(&plot, "data-y-max") >= 52.0);
    assert_eq!(by_class("thin").len(), 2);
    let rug: Vec<f64> = by_class("rug").iter().map(|n| f(n, "data-x")).collect();
    assert_eq!(rug, vec![1.0, 2.0, 4.0], "7 is outside the range");
    let dots = by_class("point");
    assert_eq!(dots.len(), 3);
    // Dots sit on the main curve's vertices.
    let points = by_class("curve")[0].attribute("points").unwrap();
    for (dot, vertex) in dots.iter().zip(points.split(' ')) {
        let (x, y) = vertex.split_once(',').unwrap();
        assert_eq!(
            (dot.attribute("cx"), dot.attribute("cy")),
            (Some(x), Some(y))
        );
    }
    // Thin curves come first, so the main curve is drawn over them.
    let order: Vec<&str> = doc
        .descendants()
        .filter_map(|n| n.attribute("class"))
        .filter(|c| matches!(*c, "thin" | "curve"))
        .collect();
    assert_eq!(order, ["thin", "thin", "curve"]);
}
