"""The vocabulary of generated referrals: agencies, categories and the words they are
written in (roads, estates, shops, projects, descriptions, measurements, vehicles)."""

from __future__ import annotations

from enum import StrEnum


class Agency(StrEnum):
    HOUSING = "HOUSING"
    TRAFFIC_POLICE = "TRAFFIC_POLICE"
    ENVIRONMENT = "ENVIRONMENT"

    @property
    def prefix(self) -> str:
        """The prefix of the agency's document numbers (住建 ZJ, 交警 JJ, 环保 HB)."""
        return _PREFIX[self]


_PREFIX = {Agency.HOUSING: "ZJ", Agency.TRAFFIC_POLICE: "JJ", Agency.ENVIRONMENT: "HB"}

ROADS = (
    "建设南路", "新华西路", "长江北路", "人民中路", "滨江北路", "红旗中路", "车站路",
    "田心大道", "嵩山路", "珠江北路", "黄河南路", "芦淞路", "天台路", "合泰路", "七一路",
    "响石路", "湘江路", "泰山路", "株洲大道", "河西大道", "沿江南路", "庆云路",
)  # fmt: skip
ESTATES = ("怡景苑", "湘水湾", "金色家园", "锦绣华庭", "滨江名城", "紫荆花园", "书香门第")
SHOPS = ("老街烧烤", "湘味小厨", "好再来餐馆", "品味粉店", "一品香酒楼", "夜宵大排档")
PROJECTS = ("安置房项目", "商业综合体项目", "市政道路改造工程", "学校扩建工程", "住宅小区项目")
DESCRIPTIONS = {
    "ILLEGAL_CONSTRUCTION": (
        "未取得建设工程规划许可证擅自建设{n}平方米",
        "屋顶违法加建约{n}平方米",
        "超出规划许可范围擅自扩建{n}平方米",
        "擅自占用公共绿地搭建构筑物约{n}平方米",
    ),
    "CONSTRUCTION_DUST": (
        "施工工地未落实围挡、覆盖等扬尘防治措施",
        "工地裸土未覆盖，出入口车辆未冲洗",
        "土方作业未采取洒水抑尘措施，扬尘明显",
    ),
    "MUCK_TRANSPORT": (
        "渣土车未密闭运输，沿途撒漏",
        "渣土运输车辆未按规定路线行驶，车厢未覆盖",
        "未取得核准擅自运输建筑垃圾",
    ),
    "OUTDOOR_ADVERTISING": ("未经审批擅自设置大型户外广告牌", "户外广告设施存在安全隐患未整改"),
    "SIDEWALK_PARKING": ("机动车在人行道违法停放，阻碍通行", "车辆长时间占用人行道停放"),
    "STREET_VENDING": ("占用道路摆摊经营，影响通行", "店外占道经营，堆放杂物"),
    "CATERING_FUMES": ("餐饮油烟未经净化直排", "油烟净化设施未正常使用，周边居民投诉"),
    "NIGHT_CONSTRUCTION_NOISE": ("夜间22时后违规施工，噪声扰民", "未经批准夜间连续施工作业"),
    "KITCHEN_WASTE": ("无资质收运餐厨垃圾，沿途滴漏", "餐厨垃圾交由非法收运车辆处置"),
}
# Each agency's categories with their weights in the zhuzhou-2022 profile.
CATEGORIES: dict[Agency, tuple[tuple[str, int], ...]] = {
    Agency.HOUSING: (
        ("ILLEGAL_CONSTRUCTION", 7),
        ("CONSTRUCTION_DUST", 2),
        ("MUCK_TRANSPORT", 2),
        ("OUTDOOR_ADVERTISING", 1),
    ),
    Agency.TRAFFIC_POLICE: (("SIDEWALK_PARKING", 3), ("MUCK_TRANSPORT", 2), ("STREET_VENDING", 1)),
    Agency.ENVIRONMENT: (
        ("CATERING_FUMES", 3),
        ("NIGHT_CONSTRUCTION_NOISE", 2),
        ("CONSTRUCTION_DUST", 1),
    ),
}
# the category a partner agency's referral shares with a housing case it merges into
MERGE_CATEGORY = {Agency.TRAFFIC_POLICE: "MUCK_TRANSPORT", Agency.ENVIRONMENT: "CONSTRUCTION_DUST"}
# category -> (pollutant, limit, unit) of the environment block
ENV_BLOCK = {
    "CATERING_FUMES": ("油烟", 2.0, "mg/m³"),
    "NIGHT_CONSTRUCTION_NOISE": ("夜间施工噪声", 55.0, "dB(A)"),
    "CONSTRUCTION_DUST": ("PM10", 150.0, "µg/m³"),
    "KITCHEN_WASTE": ("渗滤液COD", 500.0, "mg/L"),
}
VEHICLE = {
    "SIDEWALK_PARKING": "小型轿车",
    "MUCK_TRANSPORT": "重型自卸货车",
    "STREET_VENDING": "三轮摩托车",
}
REJECTION_REASONS = (
    "当事人已自行整改，违法事实已消除",
    "证据不足，不予立案",
    "不属于本部门管辖，已移交",
)
AMENDMENT_NOTES = ("经复核，现场情况属实", "补充现场照片及测量数据", "更正当事人联系方式及地址")
