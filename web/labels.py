"""The page's words in Chinese (the default) and English (``?lang=en``).

A key missing from a language shows the key itself, so a forgotten label is visible on
the page rather than an error.
"""

from __future__ import annotations

from collections.abc import Callable

WORDS: dict[str, tuple[str, str]] = {
    "bureau": ("株洲市城市管理和综合执法局", "Zhuzhou urban-management law-enforcement bureau"),
    "pipeline": ("流水线", "Pipeline"),
    "deadletters": ("死信", "Dead letters"),
    "cases": ("案件", "Cases"),
    "scorecards": ("月度考评", "Scorecards"),
    "penalties": ("罚没款", "Penalties"),
    "processes": ("进程", "Processes"),
    "process": ("进程", "process"),
    "status": ("状态", "status"),
    "detail": ("说明", "detail"),
    "ready": ("就绪", "ready"),
    "not ready": ("未就绪", "not ready"),
    "unreachable": ("无法连接", "unreachable"),
    "lag": ("积压（条）", "Lag (records)"),
    "topic": ("主题", "topic"),
    "records": ("条", "records"),
    "no broker": ("未配置消息代理（--broker）", "no broker configured (--broker)"),
    "events per minute": ("近一小时每分钟事件数", "Events per minute, last hour"),
    "reason": ("原因", "reason"),
    "agency": ("移送机关", "agency"),
    "source": ("来源", "source"),
    "time": ("时间", "time"),
    "all": ("全部", "all"),
    "filter": ("筛选", "filter"),
    "raw event": ("原始事件", "Raw event"),
    "district": ("区", "district"),
    "squad": ("中队", "squad"),
    "city": ("市", "city"),
    "state": ("状态", "state"),
    "overdue": ("逾期", "overdue"),
    "total": ("合计", "total"),
    "as of": ("截至（事件时间）", "as of (event time)"),
    "case": ("案件", "Case"),
    "case no": ("案件编号", "case no."),
    "category": ("类别", "category"),
    "referrals": ("移送线索", "Referrals"),
    "history": ("经过", "History"),
    "ledger": ("台账", "Ledger"),
    "decided": ("决定金额（元）", "decided (yuan)"),
    "collected": ("已收缴（元）", "collected (yuan)"),
    "outstanding": ("未缴（元）", "outstanding (yuan)"),
    "collected before": ("上年收缴（元）", "collected year before (yuan)"),
    "change": ("同比", "year on year"),
    "month": ("月份", "month"),
    "year": ("年份", "year"),
    "level": ("层级", "level"),
    "show": ("查看", "show"),
    "rank": ("排名", "rank"),
    "unit": ("单位", "unit"),
    "score": ("得分", "score"),
    "grade": ("等级", "grade"),
    "revision": ("修订版", "revision"),
    "district scores": ("各区得分", "District scores"),
    "trend": ("近12个月得分走势", "Scores over 12 months"),
    "not closed": ("该月尚未结算", "this month is not closed yet"),
    "shortfalls": ("未按时事项及其案件", "Late or missing items and their cases"),
    "none": ("无", "none"),
    "deadline": ("期限", "deadline"),
    "done at": ("完成时间", "done at"),
    "late": ("逾期完成", "late"),
    "missing": ("未完成", "missing"),
    "partial": ("未足额", "partly paid"),
    "sub units": ("下级单位", "Units below"),
    "by month": ("按月", "By month"),
    "by district": ("按区", "By district"),
    "what": ("事项", "what"),
    "amount": ("金额（元）", "amount (yuan)"),
    "decision": ("处罚决定", "decision"),
    "receipt": ("缴款", "receipt"),
    "api": ("接口文档", "API"),
    "filing_timeliness": ("立案及时", "filing on time"),
    "decision_timeliness": ("处罚及时", "decision on time"),
    "legal_review": ("法制审核", "legal review"),
    "collection": ("罚没执收", "collection"),
    "feedback": ("反馈移送机关", "feedback"),
    "EXCELLENT": ("优秀", "excellent"),
    "GOOD": ("良好", "good"),
    "PASS": ("合格", "pass"),
    "FAIL": ("不合格", "fail"),
    "OPEN": ("待立案", "open"),
    "FILED": ("已立案", "filed"),
    "REJECTED": ("不予立案", "rejected"),
    "DECIDED": ("已决定", "decided"),
    "CLOSED": ("已结案", "closed"),
    "ILLEGAL_CONSTRUCTION": ("违法建设", "illegal construction"),
    "CONSTRUCTION_DUST": ("工地扬尘", "construction dust"),
    "MUCK_TRANSPORT": ("渣土运输违规", "muck transport"),
    "SIDEWALK_PARKING": ("人行道违停", "sidewalk parking"),
    "CATERING_FUMES": ("餐饮油烟", "catering fumes"),
    "NIGHT_CONSTRUCTION_NOISE": ("夜间施工噪声", "night construction noise"),
    "OUTDOOR_ADVERTISING": ("户外广告违规", "outdoor advertising"),
    "KITCHEN_WASTE": ("餐厨垃圾非法收运", "kitchen waste"),
    "STREET_VENDING": ("占道经营", "street vending"),
    "HOUSING": ("住建", "housing"),
    "TRAFFIC_POLICE": ("交警", "traffic police"),
    "ENVIRONMENT": ("生态环境", "environment"),
}
LANGS = ("zh", "en")


def language(requested: str | None) -> str:
    return requested if requested in LANGS else "zh"


def translator(lang: str) -> Callable[[str | None], str]:
    index = LANGS.index(language(lang))

    def t(key: str | None) -> str:
        if key is None:
            return "—"
        words = WORDS.get(key)
        return words[index] if words else key

    return t
