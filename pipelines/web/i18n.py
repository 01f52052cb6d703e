"""The dashboard's words, Vietnamese first, English on request (the ``lang`` cookie).

One table: a key, its Vietnamese and its English. A key missing from the table shows as
itself, and a test checks every key the templates use is here.
"""

from __future__ import annotations

LANGS = ("vi", "en")

WORDS: dict[str, tuple[str, str]] = {
    "title": ("Hài lòng — mức độ hài lòng của người dân", "Hailong — citizen satisfaction"),
    "overview": ("Tổng quan", "Overview"),
    "alerts": ("Cảnh báo", "Alerts"),
    "public": ("Công khai", "Public"),
    "login": ("Đăng nhập", "Log in"),
    "logout": ("Đăng xuất", "Log out"),
    "account": ("Tài khoản", "Account"),
    "password": ("Mật khẩu", "Password"),
    "wrong_login": ("Sai tên tài khoản hoặc mật khẩu", "Wrong account name or password"),
    "locked": ("Tạm khóa do đăng nhập sai nhiều lần", "Locked after repeated failures"),
    "league": ("Bảng xếp hạng", "League table"),
    "preview": ("tạm tính (tháng chưa kết thúc)", "preview (the month is not over)"),
    "published": ("đã công bố", "published"),
    "stale": ("có sự kiện đến muộn: cần tính lại", "late events arrived: to be recomputed"),
    "rank": ("Hạng", "Rank"),
    "unit": ("Đơn vị", "Unit"),
    "office": ("Bộ phận một cửa", "Office"),
    "score": ("Chỉ số", "Score"),
    "interval": ("Khoảng tin cậy 95%", "95% interval"),
    "trend": ("Xu hướng", "Trend"),
    "sample": ("Số phiếu", "Answers"),
    "unranked": ("Không xếp hạng", "Unranked"),
    "reason": ("Lý do", "Reason"),
    "peer_group": ("Nhóm", "Group"),
    "live": ("Chỉ số trực tiếp", "Live index"),
    "window": ("Khoảng", "Window"),
    "period": ("Kỳ", "Period"),
    "city": ("Toàn thành phố", "The whole city"),
    "computed_at": ("Tính lúc", "Computed at"),
    "show_all": ("Xem tất cả các đơn vị", "Show every unit"),
    "kiosk": ("Thiết bị đánh giá", "Kiosk"),
    "qr": ("Khảo sát QR", "QR survey"),
    "camera": ("Camera", "Camera"),
    "osi": ("Chỉ số chung", "Overall"),
    "queue": ("Hàng chờ TB", "Avg queue"),
    "wait": ("Chờ TB (giây)", "Avg wait (s)"),
    "fresh": ("Cập nhật", "Updated"),
    "seconds_ago": ("giây trước", "seconds ago"),
    "data_as_of": ("Sự kiện mới nhất lúc", "Latest event landed at"),
    "counters": ("Quầy (30 ngày)", "Counters (30 days)"),
    "counter": ("Quầy", "Counter"),
    "staff": ("Công chức", "Civil servant"),
    "staff_scores": ("Điểm công chức theo tháng", "Monthly staff scores"),
    "devices": ("Thiết bị", "Devices"),
    "last_seen": ("Lần cuối", "Last seen"),
    "silent": ("Im lặng", "Silent"),
    "ok": ("Bình thường", "OK"),
    "comments": ("Góp ý (đã ẩn thông tin cá nhân)", "Comments (personal data removed)"),
    "open_alerts": ("Cảnh báo đang mở", "Open alerts"),
    "none": ("Không có", "None"),
    "rule": ("Quy tắc", "Rule"),
    "state": ("Trạng thái", "State"),
    "raised_at": ("Phát sinh", "Raised"),
    "numbers": ("Số liệu", "Numbers"),
    "acknowledge": ("Xác nhận đã biết", "Acknowledge"),
    "comment": ("Ghi chú", "Comment"),
    "acknowledged_by": ("Đã xác nhận bởi", "Acknowledged by"),
    "hourly_chart": (
        "48 giờ qua: số đánh giá và tỷ lệ hài lòng",
        "Last 48 hours: ratings and satisfied share",
    ),
    "ratings": ("Số đánh giá", "Ratings"),
    "satisfied_share": ("Tỷ lệ hài lòng (%)", "Satisfied (%)"),
    "offices": ("Các bộ phận", "Offices"),
    "periods": ("Các kỳ đã công bố", "Published periods"),
    "methodology": ("Phương pháp", "Methodology"),
    "open_data": ("Dữ liệu mở", "Open data"),
    "checksum": ("Mã kiểm tra dữ liệu đầu vào", "Input checksum"),
    "no_ranking": ("Chưa có bảng xếp hạng", "No ranking yet"),
    "forbidden": ("Bạn không có quyền xem trang này", "You may not see this page"),
    "not_found": ("Không tìm thấy", "Not found"),
    "language": ("English", "Tiếng Việt"),
    "my_scores": ("Điểm của tôi", "My scores"),
    "read_only": ("Chỉ xem", "Read-only"),
}


def translate(key: str, lang: str) -> str:
    pair = WORDS.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]
