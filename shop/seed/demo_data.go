package seed

// demoCategory is a category of the demo catalog with its products.
type demoCategory struct {
	slug, name, description string
	products                []demoProduct
}

// demoProduct is priced in hundredths of the shop currency's major unit (see scalePrice).
type demoProduct struct {
	name        string
	price       int64
	stock       int
	description string
	attributes  map[string]any
}

var demoCatalog = []demoCategory{
	{"audio", "Audio", "Headphones, speakers and turntables for every room and commute.", []demoProduct{
		{"Aria Wireless Noise-Cancelling Headphones", 24900, 35, "Over-ear headphones with adaptive noise cancelling, 40-hour battery and a fold-flat design for travel.", map[string]any{"color": "graphite", "battery_hours": 40, "bluetooth": "5.3", "weight_g": 254}},
		{"Pulse True Wireless Earbuds", 12900, 80, "Compact earbuds with a sweat-resistant fit, transparency mode and a pocketable charging case.", map[string]any{"color": "white", "battery_hours": 28, "water_resistance": "IPX4"}},
		{"Cove Portable Bluetooth Speaker", 8900, 60, "A rugged, waterproof speaker with surprisingly deep bass and a strap for hanging it anywhere.", map[string]any{"color": "ocean blue", "battery_hours": 16, "water_resistance": "IP67"}},
		{"Studio Monitor Speakers (Pair)", 34900, 12, "Active bookshelf monitors with balanced inputs, room correction and a flat, honest response.", map[string]any{"power_w": 50, "woofer_in": 5, "inputs": []any{"XLR", "TRS", "RCA"}}},
		{"Heritage Belt-Drive Turntable", 29900, 9, "A solid walnut plinth, a carbon tonearm and a built-in phono preamp: vinyl without fuss.", map[string]any{"speeds_rpm": []any{33, 45}, "finish": "walnut", "preamp": true}},
		{"Lumen Smart Soundbar", 39900, 18, "A slim soundbar with virtual surround, clear dialogue mode and HDMI eARC.", map[string]any{"channels": "3.1", "hdmi_earc": true, "width_cm": 92}},
		{"Echo USB Condenser Microphone", 11900, 40, "A cardioid microphone for podcasts and calls, with zero-latency monitoring and a desk stand.", map[string]any{"pattern": "cardioid", "sample_rate_khz": 96, "connector": "USB-C"}},
		{"Fold Kids' Volume-Limited Headphones", 3900, 70, "Lightweight headphones capped at 85 dB, with a share port so two can listen together.", map[string]any{"color": "mint", "max_db": 85, "age": "3+"}},
	}},
	{"cameras", "Cameras", "Cameras, lenses and the accessories that get them out of the house.", []demoProduct{
		{"Vista Mirrorless Camera Body", 129900, 7, "A 26-megapixel mirrorless body with in-body stabilisation, weather sealing and 4K video.", map[string]any{"sensor": "APS-C", "megapixels": 26, "video": "4K60"}},
		{"Prime 35mm f/1.8 Lens", 44900, 14, "A fast, compact prime with quiet autofocus: the everyday lens that rarely comes off.", map[string]any{"focal_length_mm": 35, "aperture": "f/1.8", "weight_g": 180}},
		{"Zoom 18-135mm Travel Lens", 52900, 10, "One stabilised lens from wide landscapes to portraits, for trips where you carry only one.", map[string]any{"focal_length_mm": "18-135", "stabilised": true}},
		{"Instant Film Camera", 9900, 45, "Point, shoot and watch the print appear; automatic exposure and a selfie mirror.", map[string]any{"color": "coral", "film": "instant mini"}},
		{"Carbon Fibre Travel Tripod", 17900, 20, "Folds to 40 cm, extends to 150 cm and holds 8 kg; includes a ball head with quick release.", map[string]any{"max_height_cm": 150, "load_kg": 8, "weight_g": 1100}},
		{"Action Camera 4K", 27900, 25, "A waterproof action camera with horizon levelling and image stabilisation that smooths any trail.", map[string]any{"video": "4K60", "waterproof_m": 10}},
		{"Camera Sling Bag", 6900, 50, "A padded sling with customisable dividers, side access and a tablet pocket.", map[string]any{"volume_l": 7, "color": "charcoal"}},
		{"SD Card 128 GB UHS-II", 7900, 90, "Fast enough for 4K video bursts, tough enough for the rain.", map[string]any{"capacity_gb": 128, "read_mb_s": 300}},
	}},
	{"kitchen", "Home & Kitchen", "Cookware and tools that make weeknight cooking a pleasure.", []demoProduct{
		{"Cast Iron Skillet 26 cm", 4900, 55, "Pre-seasoned cast iron that sears steaks, bakes cornbread and lasts generations.", map[string]any{"diameter_cm": 26, "material": "cast iron", "oven_safe": true}},
		{"Enamelled Dutch Oven 5 L", 12900, 22, "A heavy enamelled pot for braises, stews and no-knead bread.", map[string]any{"capacity_l": 5, "color": "cherry red", "oven_safe_c": 250}},
		{"Chef's Knife 20 cm", 8900, 30, "A Japanese-steel chef's knife, hand-sharpened, balanced for long prep sessions.", map[string]any{"blade_cm": 20, "steel": "VG-10", "handle": "pakkawood"}},
		{"End-Grain Walnut Cutting Board", 7400, 18, "A thick end-grain board that is kind to knife edges and handsome on the counter.", map[string]any{"size_cm": "40x30", "wood": "walnut"}},
		{"Stand Mixer 5 L", 34900, 8, "A die-cast stand mixer with ten speeds, a dough hook, a whisk and a flat beater.", map[string]any{"power_w": 1000, "bowl_l": 5, "color": "cream"}},
		{"Digital Kitchen Scale", 2400, 75, "Weighs to the gram up to 5 kg, with tare and a flat glass top that wipes clean.", map[string]any{"max_kg": 5, "resolution_g": 1}},
		{"Non-Stick Saucepan Set", 9900, 26, "Three saucepans with glass lids and a PFAS-free ceramic coating; induction ready.", map[string]any{"pieces": 3, "induction": true}},
		{"Linen Apron", 3400, 40, "A stonewashed linen apron with deep pockets and adjustable cross-back straps.", map[string]any{"material": "linen", "color": "sage"}},
	}},
	{"coffee-tea", "Coffee & Tea", "Beans, leaves and the gear to brew them well.", []demoProduct{
		{"Burr Coffee Grinder", 14900, 24, "Conical steel burrs with 40 settings, from espresso to cold brew, and a quiet motor.", map[string]any{"burr": "conical steel", "settings": 40}},
		{"Pour-Over Coffee Kettle", 5900, 38, "A gooseneck kettle with temperature hold, for a slow, even pour.", map[string]any{"capacity_l": 0.9, "temperature_control": true}},
		{"Espresso Machine with Steam Wand", 49900, 6, "A compact dual-boiler espresso machine with PID control and a powerful steam wand.", map[string]any{"boilers": 2, "pressure_bar": 9, "tank_l": 2}},
		{"Ethiopia Yirgacheffe Coffee Beans 1 kg", 3200, 120, "Washed heirloom beans with notes of jasmine, bergamot and lemon; roasted weekly.", map[string]any{"origin": "Ethiopia", "roast": "light", "weight_g": 1000}},
		{"House Espresso Blend 1 kg", 2600, 150, "A chocolatey, nutty blend that tames milk and shines as a straight shot.", map[string]any{"origin": "Brazil, Colombia", "roast": "medium-dark", "weight_g": 1000}},
		{"Japanese Sencha Green Tea", 1800, 90, "First-flush sencha from Shizuoka, grassy and sweet, in a resealable tin.", map[string]any{"origin": "Japan", "weight_g": 100}},
		{"Cast Iron Teapot", 4500, 20, "A traditional tetsubin-style teapot with a stainless infuser.", map[string]any{"capacity_l": 0.8, "material": "cast iron"}},
		{"French Press 1 L", 3500, 46, "Double-walled stainless steel keeps coffee hot; the four-stage filter keeps grit out.", map[string]any{"capacity_l": 1, "material": "stainless steel"}},
	}},
	{"outdoor", "Outdoor", "Kit for trails, campsites and long days outside.", []demoProduct{
		{"Ultralight Two-Person Tent", 32900, 11, "A freestanding tent under 1.5 kg with two doors, two vestibules and a full rainfly.", map[string]any{"capacity": 2, "weight_g": 1450, "season": "3-season"}},
		{"Down Sleeping Bag -5 °C", 27900, 15, "Responsibly sourced 700-fill down in a mummy cut that packs to the size of a melon.", map[string]any{"comfort_c": -5, "fill": "700 down", "weight_g": 980}},
		{"Trail Running Shoes", 13900, 33, "Grippy, cushioned and light, with a rock plate for technical descents.", map[string]any{"drop_mm": 6, "weight_g": 290, "color": "lime"}},
		{"Hiking Backpack 38 L", 15900, 21, "An adjustable back system, a rain cover and hip-belt pockets for snacks within reach.", map[string]any{"volume_l": 38, "rain_cover": true}},
		{"Insulated Water Bottle 750 ml", 2900, 140, "Keeps drinks cold for 24 hours or hot for 12; leakproof lid with a carry loop.", map[string]any{"capacity_ml": 750, "color": "forest"}},
		{"Camping Stove", 5900, 27, "A compact canister stove that boils a litre in three minutes, with a piezo igniter.", map[string]any{"boil_time_min": 3, "weight_g": 85}},
		{"Rechargeable Headlamp", 4200, 64, "400 lumens, red night mode and a USB-C battery that lasts the whole trip.", map[string]any{"lumens": 400, "charging": "USB-C"}},
		{"Packable Rain Jacket", 11900, 29, "A three-layer waterproof shell that stuffs into its own pocket.", map[string]any{"waterproof_mm": 20000, "color": "signal orange"}},
	}},
	{"books", "Books", "Novels, cookbooks and guides we keep recommending.", []demoProduct{
		{"The Lighthouse Keeper's Daughter", 1899, 60, "A windswept family saga about secrets, storms and the light that guides ships home.", map[string]any{"author": "Maren Holt", "pages": 412, "format": "paperback"}},
		{"Salt, Smoke and Fire: A Cookbook", 3499, 25, "Recipes for the grill, the smoker and the open fire, with techniques explained step by step.", map[string]any{"author": "Diego Alvarez", "pages": 288, "format": "hardcover"}},
		{"A Field Guide to European Birds", 2999, 30, "Over 700 species with illustrations, range maps and song descriptions.", map[string]any{"author": "Ingrid Lindqvist", "pages": 464, "format": "flexibound"}},
		{"The Quiet Algorithm", 2299, 44, "A thriller about a data scientist who discovers her model predicts more than markets.", map[string]any{"author": "Samuel Okafor", "pages": 356, "format": "paperback"}},
		{"Designing Everyday Objects", 3999, 16, "How good design works, from door handles to dashboards, and why so much of it fails.", map[string]any{"author": "Clara Weiss", "pages": 320, "format": "hardcover"}},
		{"Mountains Beyond the Clouds", 2599, 22, "A memoir of climbing in the Himalaya and learning when to turn back.", map[string]any{"author": "Tenzing Rai", "pages": 298, "format": "paperback"}},
		{"Gardening for Small Spaces", 1999, 38, "Balconies, windowsills and courtyards: how to grow food and flowers anywhere.", map[string]any{"author": "Poppy Greene", "pages": 224, "format": "paperback"}},
		{"The Little Book of Bread", 1599, 50, "Sourdough, focaccia and weekday loaves, with a starter guide for beginners.", map[string]any{"author": "Henri Dubois", "pages": 176, "format": "hardcover"}},
	}},
	{"fitness", "Fitness", "Equipment for home workouts, yoga and recovery.", []demoProduct{
		{"Cork Yoga Mat", 6900, 42, "A natural cork surface that grips better as you sweat, on a cushioned rubber base.", map[string]any{"thickness_mm": 5, "length_cm": 183}},
		{"Adjustable Dumbbells 24 kg (Pair)", 39900, 9, "Dial from 2.5 to 24 kg in seconds; replaces fifteen pairs of dumbbells.", map[string]any{"max_kg": 24, "increments_kg": 2.5}},
		{"Resistance Band Set", 2900, 85, "Five latex-free bands from light to extra heavy, with handles, ankle straps and a door anchor.", map[string]any{"bands": 5, "max_kg": 45}},
		{"Foam Roller", 2400, 57, "A firm, textured roller for rolling out calves, quads and back after training.", map[string]any{"length_cm": 33, "density": "firm"}},
		{"Smart Jump Rope", 3900, 36, "Counts jumps and calories and syncs to your phone; adjustable steel cable.", map[string]any{"bluetooth": true, "cable": "steel"}},
		{"Kettlebell 16 kg", 5900, 28, "A single-cast iron kettlebell with a wide, smooth handle for two-handed swings.", map[string]any{"weight_kg": 16, "material": "cast iron"}},
		{"Fitness Tracker Watch", 14900, 31, "Heart rate, sleep and GPS tracking with a week of battery life.", map[string]any{"gps": true, "battery_days": 7, "water_resistance": "5 ATM"}},
		{"Pull-Up Bar for Doorways", 3400, 48, "Fits doorways from 61 to 91 cm without screws; padded grips for wide and narrow holds.", map[string]any{"max_load_kg": 120}},
	}},
	{"office", "Office", "Desks, chairs and stationery for focused work.", []demoProduct{
		{"Ergonomic Mesh Office Chair", 32900, 13, "Adjustable lumbar support, 4D armrests and breathable mesh for long days.", map[string]any{"max_load_kg": 135, "color": "black", "adjustable_lumbar": true}},
		{"Electric Standing Desk", 49900, 7, "A dual-motor desk that rises from 62 to 127 cm, with four memory presets.", map[string]any{"height_cm": "62-127", "top_cm": "160x80", "motors": 2}},
		{"Mechanical Keyboard", 12900, 34, "Hot-swappable switches, PBT keycaps and a solid aluminium case.", map[string]any{"layout": "75%", "switches": "tactile", "connection": []any{"USB-C", "Bluetooth"}}},
		{"Wireless Ergonomic Mouse", 6900, 52, "A vertical grip that eases wrist strain, with silent clicks and a three-device switch.", map[string]any{"dpi": 4000, "battery_months": 3}},
		{"27-inch 4K Monitor", 38900, 11, "An IPS panel with accurate colour, USB-C power delivery and a height-adjustable stand.", map[string]any{"size_in": 27, "resolution": "3840x2160", "usb_c_w": 65}},
		{"Dotted Notebook A5", 1490, 160, "160 numbered pages of 100 g/m² paper that takes fountain pen ink without bleeding.", map[string]any{"pages": 160, "paper_gsm": 100, "color": "navy"}},
		{"Fountain Pen, Medium Nib", 4900, 27, "A brass fountain pen with a smooth steel nib and a converter for bottled ink.", map[string]any{"nib": "M", "material": "brass"}},
		{"LED Desk Lamp", 5900, 39, "Adjustable colour temperature and brightness, with a wireless charging base.", map[string]any{"lumens": 600, "colour_temperature_k": "2700-6500"}},
	}},
}
